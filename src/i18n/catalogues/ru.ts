import type { Catalogue } from './en.ts';

/** Русский. */
export const ru: Catalogue = {
  'common.loading': 'Загрузка…',
  'common.notFound': 'Не найдено',

  'join.title': 'Присоединиться к вебинару',
  'join.idLabel': 'ID вебинара',
  'join.submit': 'Войти',
  'join.badId': 'ID вебинара состоит из 9 цифр, например 123-456-789.',
  'join.notFound': 'Вебинар с таким ID не найден. Проверьте его и попробуйте ещё раз.',

  'event.pageTitle': 'Вебинар',
  'event.webinarId': 'ID вебинара: {id}',
  'event.manageLink': 'Ваши данные: скачать, отозвать согласие или удалить',
  'event.notFound': 'Вебинара с таким ID нет. Проверьте ссылку или введённый ID.',
  'event.error': 'Что-то пошло не так. Перезагрузите страницу и попробуйте ещё раз.',

  'gate.title': 'Зарегистрируйтесь, чтобы смотреть',
  'gate.session': 'Сеанс',
  'gate.email': 'Эл. почта',
  'gate.name': 'Имя',
  'gate.company': 'Компания',
  'gate.marketing':
    'Да, присылайте мне новости и предложения по электронной почте. (Необязательно: смотреть можно и без этого.)',
  'gate.submit': 'Смотреть',
  'gate.notice':
    'Мы используем ваш адрес эл. почты, чтобы открыть вам доступ. Прочитайте нашу {link} (версия {version}).',
  'gate.noticeLink': 'политику конфиденциальности',

  'waiting.title': 'Вебинар скоро начнётся',
  'waiting.startsAt': 'Начало: {when}',
  'waiting.startingNow': 'Вот-вот начнётся…',
  'waiting.countdownDays': '{days} дн. {clock}',
  'waiting.autoSwitch': 'Страница сама переключится на трансляцию, как только она начнётся.',

  'sessions.pick': 'Выберите сеанс',
  'sessions.next': 'Ближайшие сеансы',
  'sessions.onNow': '{when} (идёт сейчас)',
  'sessions.joinNow': 'Присоединиться',
  'sessions.choose': 'Выбрать',

  'state.sessionEndedNext': 'Этот сеанс завершён. Присоединяйтесь к следующему:',
  'state.sessionEndedNone': 'Этот сеанс завершён, других сеансов не запланировано.',
  'state.expired': 'Срок доступа к этой записи истёк.',
  'state.liveEnded': 'Прямая трансляция завершена. Запись скоро появится здесь.',
  'state.notReady': 'Этот вебинар пока недоступен. Страница обновится сама.',
  'state.gated': 'Введите адрес эл. почты, чтобы смотреть.',

  'player.video': 'Видео',
  'player.controls': 'Управление плеером',
  'player.play': 'Воспроизвести',
  'player.pause': 'Пауза',
  'player.seek': 'Перемотка',
  'player.mute': 'Выключить звук',
  'player.unmute': 'Включить звук',
  'player.volume': 'Громкость',
  'player.quality': 'Качество',
  'player.auto': 'Авто',
  'player.fullscreen': 'Во весь экран',
  'player.goLive': 'К прямому эфиру',
  'player.liveBadge': 'ЭФИР',
  'player.live': 'Эфир',
  'player.position': '{current} из {total}',
  'player.bitrate': '{kbps} кбит/с',
  'player.expired': 'Доступ к этому видео истёк. Перезагрузите страницу.',
  'player.failed': 'Не удалось воспроизвести видео. Перезагрузите страницу и попробуйте ещё раз.',
  'player.unsupported': 'Этот браузер не может воспроизвести это видео.',

  'interactions.chat': 'Чат',
  'interactions.pollResult': '{option}: {percent} %',
  'interactions.voteFailed': 'Ваш голос не учтён.',

  'me.title': 'Ваши данные',
  'me.csv': 'Скачать мои данные (CSV)',
  'me.json': 'Скачать мои данные (JSON)',
  'me.correct': 'Исправить ваши данные',
  'me.save': 'Сохранить исправления',
  'me.withdraw': 'Отказаться от рекламных писем',
  'me.restrict': 'Ограничить использование моих данных',
  'me.lift': 'Снять ограничение',
  'me.restrictHint':
    'Ограничение сохраняет вашу регистрацию (смотреть по-прежнему можно), но исключает вас из маркетинга и из статистики просмотров организатора, пока вы его не снимете.',
  'me.delete': 'Удалить мои данные',
  'me.invalidLink': 'Эта ссылка недействительна.',
  'me.erased': 'Ваши данные для «{title}» удалены.',
  'me.summary':
    'Регистрация на «{title}»: {person}. Рекламные письма: {marketing, select, yes {да} other {нет}}.',
  'me.restricted': 'Использование ваших данных ограничено.',
  'me.saved': 'Сохранено: ваши данные исправлены.',
  'me.withdrawn': 'Готово: рекламных писем больше не будет.',
  'me.lifted': 'Ограничение снято.',
  'me.restrictedDone':
    'Готово: ваши данные сохранены, но больше не используются для маркетинга и статистики.',
  'me.failed': 'Не получилось, попробуйте ещё раз.',
  'me.confirmDelete': 'Удалить ваши данные? Чтобы смотреть, нужно будет зарегистрироваться снова.',
  'me.deleted': 'Ваши данные удалены.',

  'play.pageTitle': 'Плеер onair',
  'play.expired': 'Срок действия ссылки предпросмотра истёк. Получите новую на странице администрирования.',
  'play.error': 'Что-то пошло не так. Перезагрузите страницу и попробуйте ещё раз.',
  'play.preparing': 'Эта запись ещё готовится. Страница обновится сама.',

  'errors.email': 'Введите действительный адрес эл. почты, например name@example.com',
  'errors.nameRequired': 'Укажите имя',
  'errors.companyRequired': 'Укажите компанию',
  'errors.noticeChanged':
    'Политика конфиденциальности изменилась: перезагрузите страницу, чтобы прочитать её',
  'errors.tooManyRegistrations': 'Слишком много регистраций из вашей сети. Попробуйте через минуту.',
  'errors.notReady': 'Этот вебинар пока недоступен.',
  'errors.noSessions': 'У этого вебинара нет сеансов.',
  'errors.pickListed': 'Выберите один из предложенных сеансов.',
  'errors.noSuchSession': 'Такого сеанса нет: выберите один из предложенных.',
  'errors.noSuchSessionField': 'Выберите один из предложенных сеансов',
  'errors.sessionOver': 'Этот сеанс уже прошёл: выберите другой.',
  'errors.sessionOverField': 'Этот сеанс уже прошёл',
  'errors.registerFirst': 'Сначала зарегистрируйтесь.',
  'errors.registerForWebinar': 'Сначала зарегистрируйтесь на этот вебинар.',
  'errors.registerToVote': 'Зарегистрируйтесь на этот вебинар, чтобы голосовать.',
  'errors.voteFromOwnBrowser':
    'Голосовать можно в браузере, из которого вы регистрировались, или по ссылке из письма с подтверждением.',
  'errors.alreadyVoted': 'Вы уже проголосовали в этом опросе.',
  'errors.noSuchOption': 'Такого варианта нет.',

  'unsubscribe.title': 'Отписка от писем',
  'unsubscribe.heading': 'Больше не получать письма об этом вебинаре?',
  'unsubscribe.button': 'Отписаться',
  'unsubscribe.done': 'Готово: вы больше не будете получать письма об этом вебинаре.',

  'mail.line': '{label}: {url}',
  'mail.confirmation.subject': 'Вы зарегистрированы: {title}',
  'mail.confirmation.intro':
    'Вы зарегистрированы на «{title}». Начало: {when}. Приглашение для календаря во вложении.',
  'mail.confirmation.action': 'Ваша личная ссылка для входа',
  'mail.reminder.subject.days':
    'Начало через {count, plural, one {# день} few {# дня} many {# дней} other {# дня}}: {title}',
  'mail.reminder.subject.hours':
    'Начало через {count, plural, one {# час} few {# часа} many {# часов} other {# часа}}: {title}',
  'mail.reminder.subject.minutes':
    'Начало через {count, plural, one {# минуту} few {# минуты} many {# минут} other {# минуты}}: {title}',
  'mail.reminder.subject.seconds':
    'Начало через {count, plural, one {# секунду} few {# секунды} many {# секунд} other {# секунды}}: {title}',
  'mail.reminder.intro': '«{title}»: начало — {when}.',
  'mail.reminder.action': 'Присоединиться',
  'mail.missed.subject': 'Жаль, что вас не было: смотрите запись «{title}»',
  'mail.missed.intro':
    'Вы не смогли присутствовать на «{title}» ({when}). Запись доступна вам ещё {days, plural, one {# день} few {# дня} many {# дней} other {# дня}}.',
  'mail.missed.action': 'Смотреть запись',
  'mail.sessionData': 'Ваши данные (скачать, отозвать согласие, удалить)',
  'mail.data': 'Ваши данные',
  'mail.stop': 'Отписаться от этих писем',
  'mail.access.subject.again': 'Ваша ссылка для просмотра: {title}',
  'mail.access.intro.registered':
    'Вы зарегистрированы на «{title}». Ваша личная ссылка вернёт вас туда из любого браузера.',
  'mail.access.intro.again':
    'Кто-то зарегистрировался на «{title}» с этим адресом в другом браузере. Если это были вы, откройте там свою личную ссылку, чтобы смотреть от своего имени. Если нет, просто проигнорируйте это письмо: ваши данные никому не переданы и не изменены.',
  'mail.access.link': 'Ваша личная ссылка',
  'mail.access.data': 'Ваши данные (скачать, исправить, ограничить, отозвать согласие, удалить)',

  'ics.join': 'Подключиться: {url}',
};
