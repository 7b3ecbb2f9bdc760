/**
 * English: the reference catalogue. Every other catalogue has exactly these keys (the compiler and
 * test/unit/i18n.test.ts check it) and the same placeholders. Messages are ICU MessageFormat
 * (see ../format.ts): `{name}` is a value, `{n, plural, one {...} other {...}}` picks a form by
 * number, `{x, select, ...}` by value. What the marketer typed (titles, CTA labels, poll options)
 * is data and never goes through a catalogue.
 *
 * Namespaces: `common`, `join`, `event`, `gate`, `waiting`, `sessions`, `state`, `player`,
 * `interactions`, `me` and `play` are the pages' (sent to the browser); `errors`, `unsubscribe`,
 * `mail` and `ics` stay on the server.
 */
export const en = {
  'common.loading': 'Loading…',
  'common.notFound': 'Not found',

  'join.title': 'Join a webinar',
  'join.idLabel': 'Webinar ID',
  'join.submit': 'Join',
  'join.badId': 'A webinar ID has 9 digits, like 123-456-789.',
  'join.notFound': 'We could not find a webinar with that ID. Check it and try again.',

  'event.pageTitle': 'Webinar',
  'event.webinarId': 'Webinar ID {id}',
  'event.manageLink': 'Your data: download, withdraw consent or delete',
  'event.notFound': 'There is no webinar with this ID. Check the link or the ID you typed.',
  'event.error': 'Something went wrong. Reload the page to try again.',

  'gate.title': 'Register to watch',
  'gate.session': 'Session',
  'gate.email': 'Email',
  'gate.name': 'Name',
  'gate.company': 'Company',
  'gate.marketing': 'Yes, send me news and offers by email. (Optional: you can watch without it.)',
  'gate.submit': 'Watch now',
  'gate.notice': 'We use your email to give you access. Read our {link} (version {version}).',
  'gate.noticeLink': 'privacy notice',

  'waiting.title': 'The webinar will start soon',
  'waiting.startsAt': 'Starts {when}',
  'waiting.startingNow': 'Starting any moment…',
  'waiting.countdownDays': '{days}d {clock}',
  'waiting.autoSwitch': 'This page switches to the stream by itself as soon as it starts.',

  'sessions.pick': 'Pick a session',
  'sessions.next': 'Next sessions',
  'sessions.onNow': '{when} (on now)',
  'sessions.joinNow': 'Join now',
  'sessions.choose': 'Choose',

  'state.sessionEndedNext': 'This session has ended. Join the next one:',
  'state.sessionEndedNone': 'This session has ended, and no other session is planned.',
  'state.expired': 'This replay has expired.',
  'state.liveEnded': 'The live stream has ended. The replay will appear here in a moment.',
  'state.notReady': 'This webinar is not available yet. The page will refresh by itself.',
  'state.gated': 'Enter your email to watch.',

  'player.video': 'Video',
  'player.controls': 'Player controls',
  'player.play': 'Play',
  'player.pause': 'Pause',
  'player.seek': 'Seek',
  'player.mute': 'Mute',
  'player.unmute': 'Unmute',
  'player.volume': 'Volume',
  'player.quality': 'Quality',
  'player.auto': 'Auto',
  'player.fullscreen': 'Full screen',
  'player.goLive': 'Go to live',
  'player.liveBadge': 'LIVE',
  'player.live': 'Live',
  'player.position': '{current} of {total}',
  'player.bitrate': '{kbps} kbit/s',
  'player.expired': 'Your access to this video has expired. Reload the page.',
  'player.failed': 'Playback failed. Reload the page to try again.',
  'player.unsupported': 'This browser cannot play this video.',

  'interactions.chat': 'Chat',
  'interactions.pollResult': '{option}: {percent} %',
  'interactions.voteFailed': 'Your vote was not counted.',

  'me.title': 'Your data',
  'me.csv': 'Download my data (CSV)',
  'me.json': 'Download my data (JSON)',
  'me.correct': 'Correct your details',
  'me.save': 'Save corrections',
  'me.withdraw': 'Stop marketing emails',
  'me.restrict': 'Restrict use of my data',
  'me.lift': 'Lift the restriction',
  'me.restrictHint':
    "Restricting keeps your registration (you can still watch) but leaves you out of marketing and of the organiser's viewing statistics until you lift it.",
  'me.delete': 'Delete my data',
  'me.invalidLink': 'This link is not valid.',
  'me.erased': 'Your data for "{title}" has been deleted.',
  'me.summary':
    'You registered for "{title}" as {person}. Marketing emails: {marketing, select, yes {yes} other {no}}.',
  'me.restricted': 'Use of your data is restricted.',
  'me.saved': 'Saved: your details are corrected.',
  'me.withdrawn': 'Done: you will get no marketing emails.',
  'me.lifted': 'The restriction is lifted.',
  'me.restrictedDone': 'Done: your data is kept but no longer used for marketing or statistics.',
  'me.failed': 'That did not work; try again.',
  'me.confirmDelete': 'Delete your data? You will need to register again to watch.',
  'me.deleted': 'Your data has been deleted.',

  'play.pageTitle': 'onair player',
  'play.expired': 'This preview link has expired. Get a new one from the admin page.',
  'play.error': 'Something went wrong. Reload to try again.',
  'play.preparing': 'This recording is still being prepared. The page will refresh by itself.',

  'errors.email': 'Enter a valid email address, like name@example.com',
  'errors.nameRequired': 'Name is required',
  'errors.companyRequired': 'Company is required',
  'errors.noticeChanged': 'The privacy notice has changed: reload the page to read it',
  'errors.tooManyRegistrations': 'Too many registrations from your network. Try again in a minute.',
  'errors.notReady': 'This webinar is not available yet.',
  'errors.noSessions': 'This webinar has no sessions.',
  'errors.pickListed': 'Pick one of the listed sessions.',
  'errors.noSuchSession': 'That session does not exist: pick one of the listed sessions.',
  'errors.noSuchSessionField': 'Pick one of the listed sessions',
  'errors.sessionOver': 'That session is over: pick another one.',
  'errors.sessionOverField': 'That session is over',
  'errors.registerFirst': 'Register first.',
  'errors.registerForWebinar': 'Register for this webinar first.',
  'errors.registerToVote': 'Register for this webinar to vote.',
  'errors.voteFromOwnBrowser':
    'Votes are cast from the browser you registered with, or from the link in your confirmation email.',
  'errors.alreadyVoted': 'You have already voted in this poll.',
  'errors.noSuchOption': 'No such option.',

  'unsubscribe.title': 'Stop emails',
  'unsubscribe.heading': 'Stop emails about this webinar?',
  'unsubscribe.button': 'Stop the emails',
  'unsubscribe.done': 'Done: you will get no more emails about this webinar.',

  'mail.line': '{label}: {url}',
  'mail.confirmation.subject': "You're registered: {title}",
  'mail.confirmation.intro': 'You\'re registered for "{title}" on {when}. The calendar invite is attached.',
  'mail.confirmation.action': 'Your personal join link',
  'mail.reminder.subject.days': 'Starting in {count, plural, one {# day} other {# days}}: {title}',
  'mail.reminder.subject.hours': 'Starting in {count, plural, one {# hour} other {# hours}}: {title}',
  'mail.reminder.subject.minutes': 'Starting in {count, plural, one {# minute} other {# minutes}}: {title}',
  'mail.reminder.subject.seconds': 'Starting in {count, plural, one {# second} other {# seconds}}: {title}',
  'mail.reminder.intro': '"{title}" starts {when}.',
  'mail.reminder.action': 'Join here',
  'mail.missed.subject': 'Sorry we missed you: watch the replay of {title}',
  'mail.missed.intro':
    'You couldn\'t make "{title}" on {when}. The replay is yours for the next {days, plural, one {# day} other {# days}}.',
  'mail.missed.action': 'Watch the replay',
  'mail.sessionData': 'Your data (download, withdraw consent, delete)',
  'mail.data': 'Your data',
  'mail.stop': 'Stop these emails',
  'mail.access.subject.again': 'Your link to watch: {title}',
  'mail.access.intro.registered':
    'You\'re registered for "{title}". Your personal link brings you back to it from any browser.',
  'mail.access.intro.again':
    'Someone registered for "{title}" with this address in another browser. If that was you, open your personal link there to watch as yourself. If it wasn\'t, ignore this email: nothing of yours was shared or changed.',
  'mail.access.link': 'Your personal link',
  'mail.access.data': 'Your data (download, correct, restrict, withdraw consent, delete)',

  'ics.join': 'Join: {url}',
};

export type MessageKey = keyof typeof en;
export type Catalogue = Readonly<Record<MessageKey, string>>;
