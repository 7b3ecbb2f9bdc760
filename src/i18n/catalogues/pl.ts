import type { Catalogue } from './en.ts';

/** Polski. */
export const pl: Catalogue = {
  'common.loading': 'Ładowanie…',
  'common.notFound': 'Nie znaleziono',

  'join.title': 'Dołącz do webinaru',
  'join.idLabel': 'ID webinaru',
  'join.submit': 'Dołącz',
  'join.badId': 'ID webinaru ma 9 cyfr, np. 123-456-789.',
  'join.notFound': 'Nie znaleźliśmy webinaru o tym ID. Sprawdź je i spróbuj ponownie.',

  'event.pageTitle': 'Webinar',
  'event.webinarId': 'ID webinaru: {id}',
  'event.manageLink': 'Twoje dane: pobierz, wycofaj zgodę lub usuń',
  'event.notFound': 'Nie ma webinaru o tym ID. Sprawdź link lub wpisane ID.',
  'event.error': 'Coś poszło nie tak. Odśwież stronę, aby spróbować ponownie.',

  'gate.title': 'Zarejestruj się, aby oglądać',
  'gate.session': 'Sesja',
  'gate.email': 'E-mail',
  'gate.name': 'Imię i nazwisko',
  'gate.company': 'Firma',
  'gate.marketing':
    'Tak, chcę otrzymywać e-mailem nowości i oferty. (Opcjonalnie: możesz oglądać bez tej zgody).',
  'gate.submit': 'Oglądaj teraz',
  'gate.notice':
    'Używamy Twojego adresu e-mail, aby dać Ci dostęp. Przeczytaj naszą {link} (wersja {version}).',
  'gate.noticeLink': 'politykę prywatności',

  'waiting.title': 'Webinar wkrótce się rozpocznie',
  'waiting.startsAt': 'Początek: {when}',
  'waiting.startingNow': 'Za chwilę się zacznie…',
  'waiting.countdownDays': '{days} dn. {clock}',
  'waiting.autoSwitch': 'Ta strona sama przełączy się na transmisję, gdy tylko się zacznie.',

  'sessions.pick': 'Wybierz sesję',
  'sessions.next': 'Kolejne sesje',
  'sessions.onNow': '{when} (trwa teraz)',
  'sessions.joinNow': 'Dołącz teraz',
  'sessions.choose': 'Wybierz',

  'state.sessionEndedNext': 'Ta sesja się zakończyła. Dołącz do następnej:',
  'state.sessionEndedNone': 'Ta sesja się zakończyła i nie zaplanowano kolejnych.',
  'state.expired': 'To nagranie wygasło.',
  'state.liveEnded': 'Transmisja na żywo się zakończyła. Nagranie pojawi się tu za chwilę.',
  'state.notReady': 'Ten webinar nie jest jeszcze dostępny. Strona odświeży się sama.',
  'state.gated': 'Podaj swój adres e-mail, aby oglądać.',

  'player.video': 'Wideo',
  'player.controls': 'Sterowanie odtwarzaczem',
  'player.play': 'Odtwórz',
  'player.pause': 'Wstrzymaj',
  'player.seek': 'Pozycja',
  'player.mute': 'Wycisz',
  'player.unmute': 'Włącz dźwięk',
  'player.volume': 'Głośność',
  'player.quality': 'Jakość',
  'player.auto': 'Automatyczna',
  'player.fullscreen': 'Pełny ekran',
  'player.goLive': 'Przejdź do transmisji na żywo',
  'player.liveBadge': 'NA ŻYWO',
  'player.live': 'Na żywo',
  'player.position': '{current} z {total}',
  'player.bitrate': '{kbps} kbit/s',
  'player.expired': 'Twój dostęp do tego wideo wygasł. Odśwież stronę.',
  'player.failed': 'Odtwarzanie nie powiodło się. Odśwież stronę, aby spróbować ponownie.',
  'player.unsupported': 'Ta przeglądarka nie może odtworzyć tego wideo.',

  'interactions.chat': 'Czat',
  'interactions.pollResult': '{option}: {percent}%',
  'interactions.voteFailed': 'Twój głos nie został policzony.',

  'me.title': 'Twoje dane',
  'me.csv': 'Pobierz moje dane (CSV)',
  'me.json': 'Pobierz moje dane (JSON)',
  'me.correct': 'Popraw swoje dane',
  'me.save': 'Zapisz poprawki',
  'me.withdraw': 'Nie wysyłaj mi e-maili marketingowych',
  'me.restrict': 'Ogranicz wykorzystanie moich danych',
  'me.lift': 'Znieś ograniczenie',
  'me.restrictHint':
    'Ograniczenie zachowuje Twoją rejestrację (nadal możesz oglądać), ale do czasu jego zniesienia Twoje dane nie są wykorzystywane w marketingu ani w statystykach oglądalności organizatora.',
  'me.delete': 'Usuń moje dane',
  'me.invalidLink': 'Ten link jest nieprawidłowy.',
  'me.erased': 'Twoje dane dotyczące „{title}” zostały usunięte.',
  'me.summary':
    'Rejestracja na „{title}” jako {person}. E-maile marketingowe: {marketing, select, yes {tak} other {nie}}.',
  'me.restricted': 'Wykorzystanie Twoich danych jest ograniczone.',
  'me.saved': 'Zapisano: Twoje dane zostały poprawione.',
  'me.withdrawn': 'Gotowe: nie będziesz otrzymywać e-maili marketingowych.',
  'me.lifted': 'Ograniczenie zostało zniesione.',
  'me.restrictedDone':
    'Gotowe: Twoje dane są przechowywane, ale nie są już wykorzystywane do marketingu ani statystyk.',
  'me.failed': 'Nie udało się, spróbuj ponownie.',
  'me.confirmDelete': 'Usunąć Twoje dane? Aby oglądać, trzeba będzie zarejestrować się ponownie.',
  'me.deleted': 'Twoje dane zostały usunięte.',

  'play.pageTitle': 'Odtwarzacz onair',
  'play.expired': 'Ten link do podglądu wygasł. Pobierz nowy na stronie administracyjnej.',
  'play.error': 'Coś poszło nie tak. Odśwież, aby spróbować ponownie.',
  'play.preparing': 'To nagranie jest jeszcze przygotowywane. Strona odświeży się sama.',

  'errors.email': 'Podaj prawidłowy adres e-mail, np. imie@example.com',
  'errors.nameRequired': 'Imię i nazwisko są wymagane',
  'errors.companyRequired': 'Nazwa firmy jest wymagana',
  'errors.noticeChanged': 'Polityka prywatności się zmieniła: odśwież stronę, aby ją przeczytać',
  'errors.tooManyRegistrations': 'Zbyt wiele rejestracji z Twojej sieci. Spróbuj ponownie za minutę.',
  'errors.notReady': 'Ten webinar nie jest jeszcze dostępny.',
  'errors.noSessions': 'Ten webinar nie ma sesji.',
  'errors.pickListed': 'Wybierz jedną z podanych sesji.',
  'errors.noSuchSession': 'Taka sesja nie istnieje: wybierz jedną z podanych.',
  'errors.noSuchSessionField': 'Wybierz jedną z podanych sesji',
  'errors.sessionOver': 'Ta sesja już się skończyła: wybierz inną.',
  'errors.sessionOverField': 'Ta sesja już się skończyła',
  'errors.registerFirst': 'Najpierw się zarejestruj.',
  'errors.registerForWebinar': 'Najpierw zarejestruj się na ten webinar.',
  'errors.registerToVote': 'Zarejestruj się na ten webinar, aby głosować.',
  'errors.voteFromOwnBrowser':
    'Głosować można w przeglądarce, w której nastąpiła rejestracja, albo przez link z e-maila z potwierdzeniem.',
  'errors.alreadyVoted': 'Twój głos w tej ankiecie został już oddany.',
  'errors.noSuchOption': 'Nie ma takiej opcji.',

  'unsubscribe.title': 'Rezygnacja z e-maili',
  'unsubscribe.heading': 'Nie chcesz już otrzymywać e-maili o tym webinarze?',
  'unsubscribe.button': 'Wypisz mnie',
  'unsubscribe.done': 'Gotowe: nie będziesz już otrzymywać e-maili o tym webinarze.',

  'mail.line': '{label}: {url}',
  'mail.confirmation.subject': 'Potwierdzenie rejestracji: {title}',
  'mail.confirmation.intro':
    'Rejestracja na „{title}” potwierdzona. Termin: {when}. Zaproszenie do kalendarza jest w załączniku.',
  'mail.confirmation.action': 'Twój osobisty link do udziału',
  'mail.reminder.subject.days':
    'Start za {count, plural, one {# dzień} few {# dni} many {# dni} other {# dnia}}: {title}',
  'mail.reminder.subject.hours':
    'Start za {count, plural, one {# godzinę} few {# godziny} many {# godzin} other {# godziny}}: {title}',
  'mail.reminder.subject.minutes':
    'Start za {count, plural, one {# minutę} few {# minuty} many {# minut} other {# minuty}}: {title}',
  'mail.reminder.subject.seconds':
    'Start za {count, plural, one {# sekundę} few {# sekundy} many {# sekund} other {# sekundy}}: {title}',
  'mail.reminder.intro': '„{title}” – początek: {when}.',
  'mail.reminder.action': 'Dołącz tutaj',
  'mail.missed.subject': 'Szkoda, że Cię nie było: obejrzyj nagranie – {title}',
  'mail.missed.intro':
    'Nie udało Ci się dołączyć do „{title}” ({when}). Nagranie jest dla Ciebie dostępne przez {days, plural, one {# dzień} few {# dni} many {# dni} other {# dnia}}.',
  'mail.missed.action': 'Obejrzyj nagranie',
  'mail.sessionData': 'Twoje dane (pobierz, wycofaj zgodę, usuń)',
  'mail.data': 'Twoje dane',
  'mail.stop': 'Wypisz się z tych e-maili',
  'mail.access.subject.again': 'Twój link do oglądania: {title}',
  'mail.access.intro.registered':
    'Rejestracja na „{title}” potwierdzona. Twój osobisty link zaprowadzi Cię tam z każdej przeglądarki.',
  'mail.access.intro.again':
    'Ktoś zarejestrował się na „{title}” z tym adresem w innej przeglądarce. Jeśli to Ty, otwórz tam swój osobisty link, aby oglądać jako Ty. Jeśli nie, zignoruj tę wiadomość: żadne Twoje dane nie zostały udostępnione ani zmienione.',
  'mail.access.link': 'Twój osobisty link',
  'mail.access.data': 'Twoje dane (pobierz, popraw, ogranicz, wycofaj zgodę, usuń)',

  'ics.join': 'Dołącz: {url}',
};
