import type { Catalogue } from './en.ts';

/** Deutsch (Sie-Form). */
export const de: Catalogue = {
  'common.loading': 'Wird geladen…',
  'common.notFound': 'Nicht gefunden',

  'join.title': 'An einem Webinar teilnehmen',
  'join.idLabel': 'Webinar-ID',
  'join.submit': 'Teilnehmen',
  'join.badId': 'Eine Webinar-ID hat 9 Ziffern, zum Beispiel 123-456-789.',
  'join.notFound':
    'Wir haben kein Webinar mit dieser ID gefunden. Prüfen Sie sie und versuchen Sie es erneut.',

  'event.pageTitle': 'Webinar',
  'event.webinarId': 'Webinar-ID: {id}',
  'event.manageLink': 'Ihre Daten: herunterladen, Einwilligung widerrufen oder löschen',
  'event.notFound': 'Es gibt kein Webinar mit dieser ID. Prüfen Sie den Link oder die eingegebene ID.',
  'event.error': 'Etwas ist schiefgelaufen. Laden Sie die Seite neu, um es erneut zu versuchen.',

  'gate.title': 'Zum Ansehen anmelden',
  'gate.session': 'Termin',
  'gate.email': 'E-Mail',
  'gate.name': 'Name',
  'gate.company': 'Unternehmen',
  'gate.marketing':
    'Ja, schicken Sie mir Neuigkeiten und Angebote per E-Mail. (Freiwillig: Sie können auch ohne zusehen.)',
  'gate.submit': 'Jetzt ansehen',
  'gate.notice':
    'Wir verwenden Ihre E-Mail-Adresse, um Ihnen Zugang zu geben. Lesen Sie unsere {link} (Version {version}).',
  'gate.noticeLink': 'Datenschutzerklärung',

  'waiting.title': 'Das Webinar beginnt in Kürze',
  'waiting.startsAt': 'Beginn: {when}',
  'waiting.startingNow': 'Gleich geht es los…',
  'waiting.countdownDays': '{days} Tg. {clock}',
  'waiting.autoSwitch': 'Diese Seite wechselt von selbst zum Stream, sobald er beginnt.',

  'sessions.pick': 'Wählen Sie einen Termin',
  'sessions.next': 'Nächste Termine',
  'sessions.onNow': '{when} (läuft gerade)',
  'sessions.joinNow': 'Jetzt teilnehmen',
  'sessions.choose': 'Auswählen',

  'state.sessionEndedNext': 'Dieser Termin ist vorbei. Nehmen Sie am nächsten teil:',
  'state.sessionEndedNone': 'Dieser Termin ist vorbei, und weitere Termine sind nicht geplant.',
  'state.expired': 'Diese Aufzeichnung ist abgelaufen.',
  'state.liveEnded': 'Der Livestream ist beendet. Die Aufzeichnung erscheint gleich hier.',
  'state.notReady': 'Dieses Webinar ist noch nicht verfügbar. Die Seite aktualisiert sich von selbst.',
  'state.gated': 'Geben Sie Ihre E-Mail-Adresse ein, um zuzusehen.',

  'player.video': 'Video',
  'player.controls': 'Player-Steuerung',
  'player.play': 'Abspielen',
  'player.pause': 'Pause',
  'player.seek': 'Position',
  'player.mute': 'Stummschalten',
  'player.unmute': 'Ton einschalten',
  'player.volume': 'Lautstärke',
  'player.quality': 'Qualität',
  'player.auto': 'Automatisch',
  'player.fullscreen': 'Vollbild',
  'player.goLive': 'Zur Live-Position',
  'player.liveBadge': 'LIVE',
  'player.live': 'Live',
  'player.position': '{current} von {total}',
  'player.bitrate': '{kbps} kbit/s',
  'player.expired': 'Ihr Zugang zu diesem Video ist abgelaufen. Laden Sie die Seite neu.',
  'player.failed': 'Die Wiedergabe ist fehlgeschlagen. Laden Sie die Seite neu, um es erneut zu versuchen.',
  'player.unsupported': 'Dieser Browser kann dieses Video nicht abspielen.',

  'interactions.chat': 'Chat',
  'interactions.pollResult': '{option}: {percent} %',
  'interactions.voteFailed': 'Ihre Stimme wurde nicht gezählt.',

  'me.title': 'Ihre Daten',
  'me.csv': 'Meine Daten herunterladen (CSV)',
  'me.json': 'Meine Daten herunterladen (JSON)',
  'me.correct': 'Ihre Angaben berichtigen',
  'me.save': 'Berichtigung speichern',
  'me.withdraw': 'Keine Werbe-E-Mails mehr',
  'me.restrict': 'Verarbeitung meiner Daten einschränken',
  'me.lift': 'Einschränkung aufheben',
  'me.restrictHint':
    'Mit der Einschränkung bleibt Ihre Anmeldung bestehen (Sie können weiter zusehen), aber bis zur Aufhebung werden Sie weder für Marketing noch in den Zuschauerstatistiken des Veranstalters berücksichtigt.',
  'me.delete': 'Meine Daten löschen',
  'me.invalidLink': 'Dieser Link ist ungültig.',
  'me.erased': 'Ihre Daten zu „{title}“ wurden gelöscht.',
  'me.summary':
    'Sie sind für „{title}“ angemeldet als {person}. Werbe-E-Mails: {marketing, select, yes {ja} other {nein}}.',
  'me.restricted': 'Die Verarbeitung Ihrer Daten ist eingeschränkt.',
  'me.saved': 'Gespeichert: Ihre Angaben wurden berichtigt.',
  'me.withdrawn': 'Erledigt: Sie erhalten keine Werbe-E-Mails.',
  'me.lifted': 'Die Einschränkung ist aufgehoben.',
  'me.restrictedDone':
    'Erledigt: Ihre Daten bleiben gespeichert, werden aber nicht mehr für Marketing oder Statistiken verwendet.',
  'me.failed': 'Das hat nicht geklappt. Bitte versuchen Sie es erneut.',
  'me.confirmDelete': 'Ihre Daten löschen? Zum Ansehen müssen Sie sich dann erneut anmelden.',
  'me.deleted': 'Ihre Daten wurden gelöscht.',

  'play.pageTitle': 'onair-Player',
  'play.expired': 'Dieser Vorschaulink ist abgelaufen. Holen Sie sich auf der Admin-Seite einen neuen.',
  'play.error': 'Etwas ist schiefgelaufen. Laden Sie neu, um es erneut zu versuchen.',
  'play.preparing': 'Diese Aufnahme wird noch vorbereitet. Die Seite aktualisiert sich von selbst.',

  'errors.email': 'Geben Sie eine gültige E-Mail-Adresse ein, zum Beispiel name@example.com',
  'errors.nameRequired': 'Bitte geben Sie Ihren Namen an',
  'errors.companyRequired': 'Bitte geben Sie Ihr Unternehmen an',
  'errors.noticeChanged':
    'Die Datenschutzerklärung hat sich geändert: Laden Sie die Seite neu, um sie zu lesen',
  'errors.tooManyRegistrations':
    'Zu viele Anmeldungen aus Ihrem Netzwerk. Versuchen Sie es in einer Minute erneut.',
  'errors.notReady': 'Dieses Webinar ist noch nicht verfügbar.',
  'errors.noSessions': 'Dieses Webinar hat keine Termine.',
  'errors.pickListed': 'Wählen Sie einen der aufgeführten Termine.',
  'errors.noSuchSession': 'Diesen Termin gibt es nicht: Wählen Sie einen der aufgeführten.',
  'errors.noSuchSessionField': 'Wählen Sie einen der aufgeführten Termine',
  'errors.sessionOver': 'Dieser Termin ist vorbei: Wählen Sie einen anderen.',
  'errors.sessionOverField': 'Dieser Termin ist vorbei',
  'errors.registerFirst': 'Melden Sie sich zuerst an.',
  'errors.registerForWebinar': 'Melden Sie sich zuerst für dieses Webinar an.',
  'errors.registerToVote': 'Melden Sie sich für dieses Webinar an, um abzustimmen.',
  'errors.voteFromOwnBrowser':
    'Abstimmen können Sie in dem Browser, mit dem Sie sich angemeldet haben, oder über den Link in Ihrer Bestätigungs-E-Mail.',
  'errors.alreadyVoted': 'Sie haben in dieser Umfrage bereits abgestimmt.',
  'errors.noSuchOption': 'Diese Option gibt es nicht.',

  'unsubscribe.title': 'E-Mails abbestellen',
  'unsubscribe.heading': 'Keine E-Mails mehr zu diesem Webinar erhalten?',
  'unsubscribe.button': 'E-Mails abbestellen',
  'unsubscribe.done': 'Erledigt: Sie erhalten keine E-Mails mehr zu diesem Webinar.',

  'mail.line': '{label}: {url}',
  'mail.confirmation.subject': 'Anmeldung bestätigt: {title}',
  'mail.confirmation.intro':
    'Sie sind für „{title}“ am {when} angemeldet. Die Kalendereinladung finden Sie im Anhang.',
  'mail.confirmation.action': 'Ihr persönlicher Teilnahmelink',
  'mail.reminder.subject.days': 'Beginnt in {count, plural, one {# Tag} other {# Tagen}}: {title}',
  'mail.reminder.subject.hours': 'Beginnt in {count, plural, one {# Stunde} other {# Stunden}}: {title}',
  'mail.reminder.subject.minutes': 'Beginnt in {count, plural, one {# Minute} other {# Minuten}}: {title}',
  'mail.reminder.subject.seconds': 'Beginnt in {count, plural, one {# Sekunde} other {# Sekunden}}: {title}',
  'mail.reminder.intro': '„{title}“ beginnt am {when}.',
  'mail.reminder.action': 'Hier teilnehmen',
  'mail.missed.subject': 'Schade, dass Sie nicht dabei waren: die Aufzeichnung von {title}',
  'mail.missed.intro':
    'Sie konnten am {when} nicht bei „{title}“ dabei sein. Die Aufzeichnung steht Ihnen {days, plural, one {noch # Tag} other {noch # Tage}} zur Verfügung.',
  'mail.missed.action': 'Aufzeichnung ansehen',
  'mail.sessionData': 'Ihre Daten (herunterladen, Einwilligung widerrufen, löschen)',
  'mail.data': 'Ihre Daten',
  'mail.stop': 'Diese E-Mails abbestellen',
  'mail.access.subject.again': 'Ihr Link zum Ansehen: {title}',
  'mail.access.intro.registered':
    'Sie sind für „{title}“ angemeldet. Über Ihren persönlichen Link gelangen Sie von jedem Browser aus wieder dorthin.',
  'mail.access.intro.again':
    'Jemand hat sich in einem anderen Browser mit dieser Adresse für „{title}“ angemeldet. Wenn Sie das waren, öffnen Sie dort Ihren persönlichen Link, um als Sie selbst zuzusehen. Wenn nicht, ignorieren Sie diese E-Mail: Von Ihren Daten wurde nichts weitergegeben oder geändert.',
  'mail.access.link': 'Ihr persönlicher Link',
  'mail.access.data':
    'Ihre Daten (herunterladen, berichtigen, einschränken, Einwilligung widerrufen, löschen)',

  'ics.join': 'Teilnehmen: {url}',
};
