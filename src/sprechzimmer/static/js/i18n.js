// Every sentence the pages show, in German (default) and English, and the
// little machinery that puts them on the page. Nothing visible is written
// anywhere else. The chosen language is kept in localStorage (a preference,
// not tracking: it never leaves the browser).
//
// Over 400 lines on purpose: the two dictionaries, side by side, are most of
// it, so that a sentence and its translation are never apart.
//
// The dictionaries and `translate` are pure; the DOM helpers touch `document`
// only when called, so node can import this module to test the dictionaries.

/** @typedef {'de' | 'en'} Lang */

export const LANGS = /** @type {const} */ (['de', 'en']);
export const DEFAULT_LANG = 'de';
const STORAGE_KEY = 'sprechzimmer.lang';

const de = {
  'app.name': 'Sprechzimmer',
  'lang.label': 'Sprache',
  'lang.de': 'Deutsch',
  'lang.en': 'English',

  'login.title': 'Anmeldung für Therapeutinnen und Therapeuten',
  'login.code': 'Kennung',
  'login.password': 'Passwort',
  'login.submit': 'Anmelden',
  'login.busy': 'Anmeldung läuft …',
  'login.hint': 'Sie sind Klientin oder Klient? Dann öffnen Sie bitte einfach den Link, den Sie erhalten haben.',

  'error.network': 'Der Server ist nicht erreichbar. Bitte prüfen Sie Ihre Internetverbindung.',
  'error.unexpected': 'Etwas ist schiefgegangen. Bitte versuchen Sie es erneut.',

  'dashboard.title': 'Übersicht',
  'dashboard.loggedInAs': 'Angemeldet als {code}',
  'dashboard.logout': 'Abmelden',
  'dashboard.new': 'Neue Sitzung',
  'dashboard.clientId': 'Kennung (Pseudonym)',
  'dashboard.clientIdHelp': 'Verwenden Sie eine Kennung, die nur Sie zuordnen können – keinen Namen, keine E-Mail-Adresse, keine Telefonnummer.',
  'dashboard.create': 'Sitzung anlegen',
  'dashboard.created': 'Sitzung für {clientId} angelegt. Senden Sie diesen Link über Ihren eigenen Kanal an Ihre Klientin oder Ihren Klienten:',
  'dashboard.newLinkMade': 'Weiterer Link für {clientId}. Senden Sie ihn über Ihren eigenen Kanal an Ihre Klientin oder Ihren Klienten. Bereits verschickte Links bleiben bis zu ihrem Ablauf gültig.',
  'dashboard.createdExpiry': 'Dieser Link ist gültig bis {date}.',
  'dashboard.clientLink': 'Link für Ihre Klientin oder Ihren Klienten',
  'dashboard.copy': 'Link kopieren',
  'dashboard.copied': 'Kopiert.',
  'dashboard.copyFailed': 'Kopieren nicht möglich – der Link ist markiert, bitte mit Strg+C (Mac: ⌘+C) kopieren.',
  'dashboard.joinAsTherapist': 'Der Sitzung beitreten',
  'dashboard.waitingHeading': 'Im Wartezimmer',
  'dashboard.waitingSince': 'wartet seit {minutes} Min.',
  'dashboard.waitingJustNow': 'wartet seit weniger als 1 Min.',
  'dashboard.joinWaiting': 'Jetzt beitreten',
  'dashboard.someoneWaiting': '{clientId} wartet im Wartezimmer.',
  'dashboard.alerts': 'Hinweise, wenn jemand wartet',
  'dashboard.soundHelp': 'Ihr Browser spielt Töne erst, nachdem Sie einmal auf diese Seite geklickt haben.',
  'dashboard.notify': 'Mitteilung des Browsers',
  'dashboard.notifyHelp': 'Erscheint auch, wenn dieses Fenster im Hintergrund ist. Beim ersten Einschalten fragt Ihr Browser einmal um Erlaubnis.',
  'dashboard.notifyDenied': 'Ihr Browser erlaubt dieser Seite keine Mitteilungen. Sie können das in den Website-Einstellungen Ihres Browsers ändern.',
  'dashboard.notifyTitle': 'Sprechzimmer',
  'dashboard.notifyBody': 'Im Wartezimmer wartet jemand auf Sie.',
  'dashboard.sessions': 'Sitzungen',
  'dashboard.noSessions': 'Noch keine Sitzungen.',
  'dashboard.col.clientId': 'Kennung (Pseudonym)',
  'dashboard.col.created': 'Angelegt',
  'dashboard.col.links': 'Links',
  'dashboard.col.minutes': 'Minuten',
  'dashboard.col.state': 'Status',
  'dashboard.col.actions': 'Aktionen',
  'dashboard.reference': 'Sitzung {reference}',
  'dashboard.linkValidUntil': 'gültig bis {date}',
  'dashboard.linkExpired': 'abgelaufen am {date}',
  'dashboard.linksEnded': 'keine gültigen Links',
  'dashboard.minutes': '{minutes} Min.',
  'dashboard.waiting': 'wartet',
  'dashboard.inCall': 'im Gespräch',
  'dashboard.actionFor': '{action}: {clientId}',
  'dashboard.join': 'Beitreten',
  'dashboard.newLink': 'Neuer Link',
  'dashboard.newLinkHelp': '„Neuer Link“ erstellt einen weiteren Link zur selben Sitzung. Bereits verschickte Links bleiben bis zu ihrem Ablauf gültig; soll ein alter Link nicht mehr gelten, beenden Sie die Sitzung und legen eine neue an.',
  'dashboard.close': 'Sitzung beenden',
  'dashboard.closeConfirm': 'Sitzung {clientId} beenden? Alle Links dieser Sitzung werden ungültig, eine laufende Verbindung wird getrennt. Die Minuten bleiben in der Abrechnung.',
  'dashboard.closed': 'Sitzung {clientId} beendet.',
  'dashboard.erase': 'Datensatz löschen',
  'dashboard.eraseHelp': '„Datensatz löschen“ ist für den Fall gedacht, dass versehentlich ein echter Name eingetippt wurde: Danach ist die Kennung nirgends mehr gespeichert.',
  'dashboard.eraseConfirm': 'Datensatz {clientId} endgültig löschen? Die Sitzung, ihre Links und alle ihre Verbindungsdaten werden gelöscht, eine laufende Verbindung wird getrennt. Ihre Minuten ({minutes} Min.) fehlen danach im Abrechnungsexport. Das lässt sich nicht rückgängig machen.',
  'dashboard.erased': 'Datensatz gelöscht (Sitzung {reference}).',
  'dashboard.loadFailed': 'Die Sitzungen konnten nicht geladen werden.',
  'dashboard.state.open': 'offen',
  'dashboard.state.closed': 'beendet',
  'dashboard.state.revoked': 'widerrufen',
  'dashboard.state.expired': 'abgelaufen',
  'dashboard.billing': 'Abrechnung',
  'dashboard.billingMonth': 'Monat',
  'dashboard.billingHelp': 'Abrechenbare Minuten je Sitzung: die Zeit, in der Sie und Ihr Gegenüber beide verbunden waren. Die Datei öffnet sich in Tabellenprogrammen wie Excel oder LibreOffice direkt in Spalten.',
  'dashboard.billingFormat': 'Format',
  'dashboard.billingFormat.de': 'für Tabellenprogramme auf Deutsch (Semikolon, Dezimalkomma)',
  'dashboard.billingFormat.en': 'für Tabellenprogramme auf Englisch (Komma, Dezimalpunkt)',
  'dashboard.billingExport': 'Minuten als CSV herunterladen',

  'clientId.warn.email': 'Das sieht nach einer E-Mail-Adresse aus.',
  'clientId.warn.phone': 'Das sieht nach einer Telefonnummer aus.',
  'clientId.warn.name': 'Das sieht nach einem echten Namen aus.',
  'clientId.warn.hint': 'Bitte verwenden Sie ein Pseudonym (z. B. „K-2041“). Sie können trotzdem fortfahren.',

  'call.title': 'Videosprechstunde',
  'call.badLink': 'Dieser Link ist unvollständig oder ungültig. Bitte öffnen Sie den Link genau so, wie Sie ihn erhalten haben.',
  'call.deviceCheck': 'Bitte prüfen Sie Kamera und Mikrofon.',
  'call.camera': 'Kamera',
  'call.microphone': 'Mikrofon',
  'call.noDevice': 'Keine',
  'call.level': 'Mikrofonpegel',
  'call.join': 'Beitreten',
  'call.devicesDenied': 'Der Zugriff auf Kamera und Mikrofon wurde nicht erlaubt. Sie können ihn in den Einstellungen Ihres Browsers erlauben und die Seite neu laden – oder ohne Kamera und Mikrofon beitreten.',
  'call.devicesMissing': 'Keine Kamera und kein Mikrofon gefunden. Sie können trotzdem beitreten.',
  'call.audioOnly': 'Keine Kamera verfügbar – Sie treten nur mit Ton bei.',
  'call.videoOnly': 'Kein Mikrofon verfügbar – Sie treten nur mit Bild bei.',
  'call.devicesBusy': 'Kamera oder Mikrofon werden gerade von einem anderen Programm benutzt.',
  'call.insecure': 'Kamera und Mikrofon sind nur über eine sichere Verbindung (https) verfügbar.',
  'call.connecting': 'Verbindung wird hergestellt …',
  'call.reconnecting': 'Verbindung unterbrochen – neuer Versuch …',
  'call.serverReconnecting': 'Die Verbindung zum Server wird wiederhergestellt. Ihr Gespräch läuft weiter.',
  'call.waitingRoom': 'Sie sind im Wartezimmer. Ihre Therapeutin oder Ihr Therapeut lässt Sie gleich eintreten.',
  'call.waitingForClient': 'Warten auf die Klientin / den Klienten …',
  'call.knocking': 'Ihre Klientin / Ihr Klient wartet im Wartezimmer.',
  'call.admit': 'Eintreten lassen',
  'call.decline': 'Abweisen',
  'call.inCall': 'Im Gespräch',
  'call.startingMedia': 'Verbindung zur anderen Seite wird aufgebaut …',
  'call.peerInterrupted': 'Verbindung zur anderen Seite unterbrochen.',
  'call.peerHungUp': 'Die andere Seite hat aufgelegt.',
  'call.ended': 'Gespräch beendet',
  'call.declined': 'Ihre Therapeutin oder Ihr Therapeut hat die Sitzung beendet.',
  'call.rejoin': 'Erneut beitreten',
  'call.leave': 'Wartezimmer verlassen',
  'call.mute': 'Stummschalten',
  'call.cameraOff': 'Kamera aus',
  'call.hangup': 'Auflegen',
  'call.remoteVideo': 'Video der anderen Seite',
  'call.localVideo': 'Ihr eigenes Video',
  'call.closed': 'Die Verbindung zum Server wurde beendet (Code {code}).',
  'call.gaveUp': 'Die Verbindung zum Server konnte nicht wiederhergestellt werden.',
  'call.clientLabel': 'Klient/in: {clientId}',
  'call.recovering': 'Verbindung wird wiederhergestellt …',
  'call.noRelay': 'Es konnte keine direkte Verbindung aufgebaut werden, und dieser Dienst hat kein Relay eingerichtet, über das die Verbindung sonst laufen könnte. Bitte versuchen Sie es in einem anderen Netzwerk (zum Beispiel über das Mobilnetz statt über das WLAN). Wir versuchen es weiter.',
  'call.compatMode': 'Kompatibilitätsmodus',
  'call.compatHelp': 'für Netzwerke, die Videoanrufe blockieren',
  'call.compatOn': 'Kompatibilitätsmodus ist an: Die Verbindung läuft über das Relay dieses Dienstes (TCP/TLS).',
  'call.compatAuto': 'Die Verbindung kam nicht zustande – der Kompatibilitätsmodus wurde eingeschaltet.',
  'call.compatUnavailable': 'Der Kompatibilitätsmodus ist auf diesem Dienst nicht verfügbar: Es ist kein Relay über TCP/TLS eingerichtet.',
  'call.relayOnly': 'Nur über Relay',
  'call.relayOnlyHelp': 'Alle Daten laufen über das Relay dieses Dienstes; keine Seite erfährt die IP-Adresse der anderen.',
  'call.relayOnlyOn': 'Nur über Relay: an',
  'call.relayOnlyOff': 'Nur über Relay: aus',
  'call.relayOnlyPending': 'Nur über Relay: wird umgestellt …',
  'call.relayOnlyUnavailable': 'Auf diesem Dienst ist kein Relay eingerichtet.',

  'e2ee.negotiating': 'Ende-zu-Ende-Verschlüsselung wird eingerichtet …',
  'e2ee.active': 'Ende-zu-Ende verschlüsselt',
  'e2ee.keyAgeNew': 'Schlüssel seit weniger als 1 min',
  'e2ee.keyAge': 'Schlüssel seit {minutes} min',
  'e2ee.verified': 'verifiziert',
  'e2ee.dtlsOnly': 'Nur Transportverschlüsselung (DTLS-SRTP)',
  'e2ee.failed': 'Ende-zu-Ende-Verschlüsselung fehlgeschlagen',
  'e2ee.unsupported': 'Ende-zu-Ende-Verschlüsselung nicht möglich',
  'e2ee.failedCall': 'Das Gespräch konnte nicht Ende-zu-Ende verschlüsselt werden. Zu Ihrem Schutz wurden Bild und Ton beendet. Bitte versuchen Sie es erneut.',
  'e2ee.unsupportedCall': 'Das Gespräch kann nicht Ende-zu-Ende verschlüsselt werden: Ein beteiligter Browser unterstützt das nicht. Zu Ihrem Schutz wurden Bild und Ton beendet. Bitte verwenden Sie einen aktuellen Browser (z. B. Chrome, Edge, Firefox oder Safari).',
  'e2ee.sasLabel': 'Sicherheitscode:',
  'e2ee.sasHelpTherapist': 'Lesen Sie den Code vor. Nennt Ihr Gegenüber denselben Code, hört niemand mit – dann bestätigen Sie.',
  'e2ee.sasHelpClient': 'Ihre Therapeutin oder Ihr Therapeut liest Ihnen diesen Code vor. Stimmt er überein, hört niemand mit.',
  'e2ee.verify': 'Code stimmt überein',

  'conn.new': 'Noch nicht verbunden',
  'conn.connecting': 'Verbindung wird aufgebaut',
  'conn.connected': 'Verbunden',
  'conn.disconnected': 'Verbindung gestört',
  'conn.failed': 'Verbindung fehlgeschlagen',
  'conn.closed': 'Verbindung getrennt',
  'conn.p2p': 'Direkt verbunden (P2P)',
  'conn.relay': 'Über Relay (TURN)',
  'conn.relayUdp': 'Über Relay (TURN/UDP)',
  'conn.relayTcp': 'Über Relay (TURN/TCP)',
  'conn.relayTls': 'Über Relay (TURN/TLS)',
  'quality.label': 'Verbindungsqualität',
  'quality.send': 'Senden',
  'quality.receive': 'Empfangen',
  'quality.good': 'gut',
  'quality.fair': 'mäßig',
  'quality.poor': 'schwach',
  'quality.unknown': '–',
  'quality.audioOnly': 'Nur Audio',
  'quality.pausedWeak': 'Video pausiert wegen schwacher Verbindung',
  'quality.pausedManual': 'Video pausiert: nur Audio gewählt',

  'sound.enable': 'Ton für Benachrichtigungen',
};

/** @typedef {keyof typeof de} MessageKey */

/** @type {Record<MessageKey, string>} */
const en = {
  'app.name': 'Sprechzimmer',
  'lang.label': 'Language',
  'lang.de': 'Deutsch',
  'lang.en': 'English',

  'login.title': 'Sign-in for therapists',
  'login.code': 'User code',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.busy': 'Signing in …',
  'login.hint': 'Are you a client? Simply open the link you were sent.',

  'error.network': 'The server cannot be reached. Please check your internet connection.',
  'error.unexpected': 'Something went wrong. Please try again.',

  'dashboard.title': 'Overview',
  'dashboard.loggedInAs': 'Signed in as {code}',
  'dashboard.logout': 'Sign out',
  'dashboard.new': 'New session',
  'dashboard.clientId': 'Client ID (pseudonym)',
  'dashboard.clientIdHelp': 'Use an ID that only you can match to a person – no name, no e-mail address, no phone number.',
  'dashboard.create': 'Create session',
  'dashboard.created': 'Session for {clientId} created. Send this link to your client through your own channel:',
  'dashboard.newLinkMade': 'Another link for {clientId}. Send it to your client through your own channel. Links you sent before stay valid until they expire.',
  'dashboard.createdExpiry': 'This link is valid until {date}.',
  'dashboard.clientLink': 'Link for your client',
  'dashboard.copy': 'Copy link',
  'dashboard.copied': 'Copied.',
  'dashboard.copyFailed': 'Cannot copy – the link is selected, please press Ctrl+C (Mac: ⌘+C).',
  'dashboard.joinAsTherapist': 'Join the session',
  'dashboard.waitingHeading': 'In the waiting room',
  'dashboard.waitingSince': 'waiting for {minutes} min',
  'dashboard.waitingJustNow': 'waiting for less than a minute',
  'dashboard.joinWaiting': 'Join now',
  'dashboard.someoneWaiting': '{clientId} is in the waiting room.',
  'dashboard.alerts': 'Alerts when someone is waiting',
  'dashboard.soundHelp': 'Your browser plays sounds only after you have clicked on this page once.',
  'dashboard.notify': 'Browser notification',
  'dashboard.notifyHelp': 'Shows even when this window is in the background. The first time you turn it on, your browser asks you once for permission.',
  'dashboard.notifyDenied': 'Your browser does not allow this page to show notifications. You can change that in your browser\'s site settings.',
  'dashboard.notifyTitle': 'Sprechzimmer',
  'dashboard.notifyBody': 'Someone is waiting for you in the waiting room.',
  'dashboard.sessions': 'Sessions',
  'dashboard.noSessions': 'No sessions yet.',
  'dashboard.col.clientId': 'Client ID (pseudonym)',
  'dashboard.col.created': 'Created',
  'dashboard.col.links': 'Links',
  'dashboard.col.minutes': 'Minutes',
  'dashboard.col.state': 'State',
  'dashboard.col.actions': 'Actions',
  'dashboard.reference': 'Session {reference}',
  'dashboard.linkValidUntil': 'valid until {date}',
  'dashboard.linkExpired': 'expired on {date}',
  'dashboard.linksEnded': 'no valid links',
  'dashboard.minutes': '{minutes} min',
  'dashboard.waiting': 'waiting',
  'dashboard.inCall': 'in call',
  'dashboard.actionFor': '{action}: {clientId}',
  'dashboard.join': 'Join',
  'dashboard.newLink': 'New link',
  'dashboard.newLinkHelp': '"New link" makes another link to the same session. Links you sent before stay valid until they expire; to stop an old link, end the session and create a new one.',
  'dashboard.close': 'End session',
  'dashboard.closeConfirm': 'End session {clientId}? All its links stop working and a running connection is cut. Its minutes stay in the billing export.',
  'dashboard.closed': 'Session {clientId} ended.',
  'dashboard.erase': 'Delete record',
  'dashboard.eraseHelp': '"Delete record" is for a real name typed by mistake: afterwards the ID is stored nowhere.',
  'dashboard.eraseConfirm': 'Delete the record {clientId} for good? The session, its links and all its connection data are deleted, and a running connection is cut. Its minutes ({minutes} min) will be missing from the billing export. This cannot be undone.',
  'dashboard.erased': 'Record deleted (session {reference}).',
  'dashboard.loadFailed': 'The sessions could not be loaded.',
  'dashboard.state.open': 'open',
  'dashboard.state.closed': 'ended',
  'dashboard.state.revoked': 'revoked',
  'dashboard.state.expired': 'expired',
  'dashboard.billing': 'Billing',
  'dashboard.billingMonth': 'Month',
  'dashboard.billingHelp': 'Billable minutes per session: the time in which you and the other person were both connected. The file opens in columns in spreadsheet programs such as Excel or LibreOffice.',
  'dashboard.billingFormat': 'Format',
  'dashboard.billingFormat.de': 'for spreadsheets in German (semicolon, decimal comma)',
  'dashboard.billingFormat.en': 'for spreadsheets in English (comma, decimal point)',
  'dashboard.billingExport': 'Download minutes as CSV',

  'clientId.warn.email': 'This looks like an e-mail address.',
  'clientId.warn.phone': 'This looks like a phone number.',
  'clientId.warn.name': 'This looks like a real name.',
  'clientId.warn.hint': 'Please use a pseudonym (e.g. "K-2041"). You can still go ahead.',

  'call.title': 'Video consultation',
  'call.badLink': 'This link is incomplete or invalid. Please open the link exactly as you received it.',
  'call.deviceCheck': 'Please check your camera and microphone.',
  'call.camera': 'Camera',
  'call.microphone': 'Microphone',
  'call.noDevice': 'None',
  'call.level': 'Microphone level',
  'call.join': 'Join',
  'call.devicesDenied': 'Access to camera and microphone was not allowed. You can allow it in your browser settings and reload the page – or join without camera and microphone.',
  'call.devicesMissing': 'No camera and no microphone found. You can still join.',
  'call.audioOnly': 'No camera available – you join with sound only.',
  'call.videoOnly': 'No microphone available – you join with video only.',
  'call.devicesBusy': 'Camera or microphone is being used by another program.',
  'call.insecure': 'Camera and microphone are only available over a secure connection (https).',
  'call.connecting': 'Connecting …',
  'call.reconnecting': 'Connection lost – trying again …',
  'call.serverReconnecting': 'Reconnecting to the server. Your conversation continues.',
  'call.waitingRoom': 'You are in the waiting room. Your therapist will let you in shortly.',
  'call.waitingForClient': 'Waiting for the client …',
  'call.knocking': 'Your client is in the waiting room.',
  'call.admit': 'Let in',
  'call.decline': 'Turn away',
  'call.inCall': 'In call',
  'call.startingMedia': 'Connecting to the other side …',
  'call.peerInterrupted': 'The connection to the other side was interrupted.',
  'call.peerHungUp': 'The other side hung up.',
  'call.ended': 'Call ended',
  'call.declined': 'Your therapist has ended the session.',
  'call.rejoin': 'Join again',
  'call.leave': 'Leave the waiting room',
  'call.mute': 'Mute',
  'call.cameraOff': 'Camera off',
  'call.hangup': 'Hang up',
  'call.remoteVideo': 'Video of the other side',
  'call.localVideo': 'Your own video',
  'call.closed': 'The connection to the server was closed (code {code}).',
  'call.gaveUp': 'The connection to the server could not be restored.',
  'call.clientLabel': 'Client: {clientId}',
  'call.recovering': 'Reconnecting …',
  'call.noRelay': 'No direct connection could be made, and this service has no relay set up that the connection could go through instead. Please try another network (for example mobile data instead of Wi-Fi). We keep trying.',
  'call.compatMode': 'Compatibility mode',
  'call.compatHelp': 'for networks that block video calls',
  'call.compatOn': 'Compatibility mode is on: the connection goes through this service\'s relay (TCP/TLS).',
  'call.compatAuto': 'The connection could not be made – compatibility mode was switched on.',
  'call.compatUnavailable': 'Compatibility mode is not available on this service: no relay over TCP/TLS is set up.',
  'call.relayOnly': 'Relay only',
  'call.relayOnlyHelp': 'All data goes through this service\'s relay; neither side learns the other\'s IP address.',
  'call.relayOnlyOn': 'Relay only: on',
  'call.relayOnlyOff': 'Relay only: off',
  'call.relayOnlyPending': 'Relay only: switching …',
  'call.relayOnlyUnavailable': 'This service has no relay set up.',

  'e2ee.negotiating': 'Setting up end-to-end encryption …',
  'e2ee.active': 'End-to-end encrypted',
  'e2ee.keyAgeNew': 'key less than 1 min old',
  'e2ee.keyAge': 'key {minutes} min old',
  'e2ee.verified': 'verified',
  'e2ee.dtlsOnly': 'Transport encryption only (DTLS-SRTP)',
  'e2ee.failed': 'End-to-end encryption failed',
  'e2ee.unsupported': 'End-to-end encryption not possible',
  'e2ee.failedCall': 'The call could not be end-to-end encrypted. To protect you, picture and sound were stopped. Please try again.',
  'e2ee.unsupportedCall': 'The call cannot be end-to-end encrypted: one of the browsers does not support it. To protect you, picture and sound were stopped. Please use a current browser (e.g. Chrome, Edge, Firefox or Safari).',
  'e2ee.sasLabel': 'Security code:',
  'e2ee.sasHelpTherapist': 'Read the code aloud. If the other person sees the same code, nobody is listening in – then confirm.',
  'e2ee.sasHelpClient': 'Your therapist will read this code to you. If it matches, nobody is listening in.',
  'e2ee.verify': 'Codes match',

  'conn.new': 'Not connected yet',
  'conn.connecting': 'Connecting',
  'conn.connected': 'Connected',
  'conn.disconnected': 'Connection disturbed',
  'conn.failed': 'Connection failed',
  'conn.closed': 'Disconnected',
  'conn.p2p': 'Direct connection (P2P)',
  'conn.relay': 'Via relay (TURN)',
  'conn.relayUdp': 'Via relay (TURN/UDP)',
  'conn.relayTcp': 'Via relay (TURN/TCP)',
  'conn.relayTls': 'Via relay (TURN/TLS)',
  'quality.label': 'Connection quality',
  'quality.send': 'Sending',
  'quality.receive': 'Receiving',
  'quality.good': 'good',
  'quality.fair': 'fair',
  'quality.poor': 'weak',
  'quality.unknown': '–',
  'quality.audioOnly': 'Audio only',
  'quality.pausedWeak': 'Video paused because of a weak connection',
  'quality.pausedManual': 'Video paused: audio only chosen',

  'sound.enable': 'Sound for notifications',
};

/** @type {Readonly<Record<Lang, Record<MessageKey, string>>>} */
export const DICTIONARIES = Object.freeze({ de, en });

/**
 * @param {unknown} value
 * @returns {value is Lang}
 */
export function isLang(value) {
  return value === 'de' || value === 'en';
}

/**
 * Look up `key` in `lang` and fill in `{name}` placeholders. A missing key
 * shows the key itself (visible in tests, never a blank button).
 *
 * @param {Lang} lang
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function translate(lang, key, params) {
  const dict = /** @type {Record<string, string>} */ (DICTIONARIES[lang]);
  const text = Object.hasOwn(dict, key) ? dict[key] : key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

// ---------------------------------------------------------------------------
// Page side (uses document / localStorage only when called)

/** @type {Lang} */
let current = DEFAULT_LANG;
/** @type {Set<(lang: Lang) => void>} */
const listeners = new Set();

/** @returns {Lang} */
export function getLang() {
  return current;
}

/**
 * The current language's text for `key`.
 * @param {MessageKey} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params) {
  return translate(current, key, params);
}

/**
 * Pick the server's sentence in the current language (API and protocol
 * errors carry both).
 * @param {{message?: string, message_de?: string} | null | undefined} error
 * @param {MessageKey} fallback
 */
export function serverMessage(error, fallback) {
  const text = current === 'de' ? error?.message_de : error?.message;
  return text || error?.message || t(fallback);
}

/** @param {(lang: Lang) => void} fn */
export function onLangChange(fn) {
  listeners.add(fn);
}

/** @param {Lang} lang */
export function setLang(lang) {
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
  applyTranslations(document);
  for (const fn of listeners) fn(lang);
}

/**
 * Put the current language's text into every element that names a key:
 * `data-i18n` (text content), `data-i18n-label` (aria-label),
 * `data-i18n-placeholder`, `data-i18n-title`.
 * @param {ParentNode} root
 */
export function applyTranslations(root) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(/** @type {MessageKey} */ (el.getAttribute('data-i18n')));
  }
  for (const [attr, target] of [
    ['data-i18n-label', 'aria-label'],
    ['data-i18n-placeholder', 'placeholder'],
    ['data-i18n-title', 'title'],
  ]) {
    for (const el of root.querySelectorAll(`[${attr}]`)) {
      el.setAttribute(target, t(/** @type {MessageKey} */ (el.getAttribute(attr))));
    }
  }
}

/**
 * Read the stored choice, translate the page and wire the language switch
 * (`<select data-testid="lang-switch">`).
 */
export function initI18n() {
  /** @type {string | null} */
  let stored = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // storage disabled
  }
  current = isLang(stored) ? stored : DEFAULT_LANG;
  applyTranslations(document);
  const select = document.querySelector('[data-testid="lang-switch"]');
  if (select instanceof HTMLSelectElement) {
    select.value = current;
    select.addEventListener('change', () => {
      if (isLang(select.value)) setLang(select.value);
    });
  }
}
