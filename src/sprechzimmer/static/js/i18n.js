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
  'legal.nav': 'Rechtliches',
  'legal.terms': 'Nutzungsbedingungen',
  'legal.privacy': 'Datenschutz',
  'legal.imprint': 'Impressum',

  'login.title': 'Anmeldung für Therapeutinnen und Therapeuten',
  'login.code': 'Kennung',
  'login.password': 'Passwort',
  'login.submit': 'Anmelden',
  'login.busy': 'Anmeldung läuft …',
  'login.hint': 'Sie sind Klientin oder Klient? Dann öffnen Sie bitte einfach den Link, den Sie erhalten haben.',

  'error.network': 'Der Server ist nicht erreichbar. Bitte prüfen Sie Ihre Internetverbindung.',
  'error.unexpected': 'Etwas ist schiefgegangen. Bitte versuchen Sie es erneut.',
  'error.linkInvalid': 'Dieser Link funktioniert nicht. Vielleicht ist er unvollständig, abgelaufen oder wurde zurückgezogen. Bitte fragen Sie Ihre Therapeutin oder Ihren Therapeuten nach einem neuen Link.',
  'error.linkExpired': 'Dieser Link ist abgelaufen. Bitte fragen Sie Ihre Therapeutin oder Ihren Therapeuten nach einem neuen Link.',
  'error.linkRevoked': 'Diese Sitzung wurde beendet; der Link funktioniert nicht mehr. Bitte wenden Sie sich an Ihre Therapeutin oder Ihren Therapeuten.',
  'error.occupied': 'Mit diesem Link ist bereits jemand in dieser Sitzung. Wenn Sie das in einem anderen Fenster oder auf einem anderen Gerät sind, machen Sie bitte dort weiter. Sonst fragen Sie bitte Ihre Therapeutin oder Ihren Therapeuten nach einem neuen Link.',
  'error.linkInUse': 'Jemand hat versucht, mit dem Link Ihrer Klientin oder Ihres Klienten beizutreten, während sie oder er schon verbunden ist.',

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
  'dashboard.seats': 'Klientinnen und Klienten im Gespräch',
  'dashboard.seatsHelp': 'Für Paar-, Familien- und Gruppentherapie: Jede Person bekommt ihren eigenen Link.',
  'dashboard.seatLink': 'Link für Person {seat}',
  'dashboard.createdGroup': 'Sitzung für {clientId} mit {count} Personen angelegt. Senden Sie jeder Person ihren eigenen Link über Ihren eigenen Kanal; ein Link gilt nur für eine Person:',
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
  'dashboard.eraseHelp': '„Datensatz löschen“ ist für den Fall gedacht, dass versehentlich ein echter Name eingetippt wurde: Danach ist diese Sitzung mit ihrer Kennung nirgends mehr gespeichert (andere Sitzungen mit derselben Kennung bleiben).',
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
  'retention.purgeSoon': 'Bald endet die Aufbewahrungsfrist der Verbindungsdaten dieser Monate: Beginn und Ende ihrer Sitzungen werden gelöscht, die Minuten bleiben. Wer die Uhrzeiten braucht, lädt die CSV jetzt herunter:',

  'clientId.warn.email': 'Das sieht nach einer E-Mail-Adresse aus.',
  'clientId.warn.phone': 'Das sieht nach einer Telefonnummer aus.',
  'clientId.warn.name': 'Das sieht nach einem echten Namen aus.',
  'clientId.warn.hint': 'Bitte verwenden Sie ein Pseudonym (z. B. „K-2041“). Sie können trotzdem fortfahren.',

  'call.title': 'Videosprechstunde',
  'call.badLink': 'Dieser Link ist unvollständig. Bitte öffnen Sie den Link genau so, wie Sie ihn erhalten haben – am besten, indem Sie ihn in der Nachricht antippen oder anklicken.',
  'call.linkChecking': 'Ihr Link wird geprüft …',
  'call.deviceCheck': 'Bitte prüfen Sie Kamera und Mikrofon.',
  'call.deviceTitle': 'Kamera und Mikrofon',
  'call.camera': 'Kamera',
  'call.microphone': 'Mikrofon',
  'call.speaker': 'Lautsprecher',
  'call.speakerDefault': 'Standard',
  'call.speakerTest': 'Ton testen',
  'call.noDevice': 'Keine',
  'call.level': 'Mikrofonpegel',
  'call.join': 'Beitreten',
  'name.label': 'Wie möchten Sie angesprochen werden?',
  'name.labelOptional': 'Wie möchten Sie angesprochen werden? (freiwillig)',
  'name.hint': 'Zum Beispiel „Frau Müller“ oder „Maria“. Nur Ihre Therapeutin oder Ihr Therapeut sieht diesen Namen; er wird nirgends gespeichert.',
  'name.missing': 'Bitte geben Sie an, wie Sie angesprochen werden möchten.',
  'name.tooLong': 'Bitte kürzen Sie den Namen auf höchstens {max} Zeichen.',
  'name.control': 'Der Name darf keine Steuerzeichen wie Zeilenumbrüche oder Tabulatoren enthalten. Bitte geben Sie ihn erneut ein.',
  'name.peerLabel': 'Name, wie Ihr Gegenüber ihn angegeben hat',
  'consent.before': 'Ich stimme den ',
  'consent.terms': 'Nutzungsbedingungen',
  'consent.between': ' zu und habe die ',
  'consent.privacy': 'Datenschutzhinweise',
  'consent.after': ' gelesen.',
  'consent.termsHref': '/nutzungsbedingungen',
  'consent.privacyHref': '/datenschutz',
  'consent.missing': 'Bitte bestätigen Sie die Nutzungsbedingungen und die Datenschutzhinweise, um beizutreten.',
  'consent.confirmed': 'Einwilligung bestätigt',
  'roomcheck.question': 'Sind Sie ungestört? Stellen Sie bitte alle Anwesenden vor.',
  'roomcheck.done': 'Erledigt',

  'chat.open': 'Chat',
  'chat.openUnread': 'Chat, {count} ungelesen',
  'chat.title': 'Nachrichten',
  'chat.close': 'Schließen',
  'chat.note': 'Nachrichten gehen direkt und verschlüsselt an Ihr Gegenüber und werden nirgends gespeichert.',
  'chat.input': 'Nachricht schreiben',
  'chat.send': 'Senden',
  'chat.me': 'Sie',
  'chat.peer': 'Gegenüber',
  'chat.pending': 'wird zugestellt …',
  'chat.empty': 'Bitte schreiben Sie zuerst eine Nachricht.',
  'chat.tooLong': 'Die Nachricht ist zu lang: höchstens {max} Zeichen.',
  'chat.tooFast': 'Bitte warten Sie einen Moment: höchstens 5 Nachrichten in 5 Sekunden.',
  'exit.button': 'Sofort verlassen',
  'exit.help': 'Verlässt das Gespräch sofort und zeigt eine neutrale Seite (auch: zweimal Escape).',
  'exit.peerLeft': 'Die Person hat das Gespräch abrupt verlassen.',
  'safety.hint': 'Freiwillig, nur falls die Verbindung abbricht: Ihr Gegenüber sieht es nur dann. Wird nirgends gespeichert.',
  'safety.phone': 'Ihre Telefonnummer',
  'safety.locationLabel': 'Wo Sie gerade sind',
  'safety.title': 'Sicherheitsnetz der Klientin oder des Klienten',
  'safety.call': 'Rufen Sie an: {phone}',
  'safety.location': 'Aufenthaltsort: {location}',

  'pause.pause': 'Pause',
  'pause.resume': 'Fortsetzen',
  'pause.ownSince': 'Pausiert seit {time}. Kamera und Mikrofon sind auf beiden Seiten aus; Sie sehen und hören Ihr Gegenüber nicht. „Fortsetzen“ beendet die Pause.',
  'pause.peerSince': 'Pausiert seit {time}: Ihr Gegenüber hat das Gespräch angehalten. Ihre Kamera und Ihr Mikrofon sind so lange auch aus.',
  'screen.share': 'Bildschirm teilen',
  'screen.stop': 'Teilen beenden',
  'screen.own': 'Sie teilen Ihren Bildschirm. Ihr Gegenüber sieht ihn statt Ihrer Kamera, Ende-zu-Ende-verschlüsselt.',
  'screen.peer': 'Sie sehen den Bildschirm Ihres Gegenübers.',
  'screen.failed': 'Der Bildschirm ließ sich nicht teilen. Ihre Kamera bleibt in Gebrauch.',

  'nettest.start': 'Netzwerk testen',
  'nettest.again': 'Noch einmal testen',
  'nettest.running': 'Der Test läuft (etwa 10 Sekunden) …',
  'nettest.help': 'Prüft die Verbindung zum Server dieses Dienstes, ohne Kamera und Mikrofon.',
  'nettest.video': 'Ihre Verbindung reicht für Video.',
  'nettest.audioOnly': 'Nur Audio empfohlen: Ihre Verbindung ist für Video knapp.',
  'nettest.compat': 'Ihr Netzwerk blockiert UDP, der Kompatibilitätsmodus hilft. Er schaltet sich bei Bedarf selbst ein.',
  'nettest.compatAudio': 'Ihr Netzwerk blockiert UDP, der Kompatibilitätsmodus hilft. Nur Audio empfohlen: Die Verbindung ist für Video knapp.',
  'nettest.tooSlow': 'Ihre Verbindung ist gerade sehr langsam. Ein anderes Netz (z. B. WLAN statt Mobilfunk) hilft vielleicht.',
  'nettest.blocked': 'Ihr Netzwerk lässt keine Verbindung zum Server dieses Dienstes durch. Versuchen Sie bitte ein anderes Netz, oder fragen Sie die Verantwortlichen Ihres Netzwerks.',
  'nettest.noRelay': 'Dieser Dienst hat keinen eigenen Relay-Server eingerichtet: Getestet werden kann nur, dass dieser Server erreichbar ist (das ist er). Ob eine direkte Verbindung klappt, zeigt sich erst im Gespräch.',
  'nettest.unmeasured': 'Der Server dieses Dienstes ist erreichbar; die Geschwindigkeit ließ sich nicht messen.',
  'nettest.failed': 'Der Test konnte nicht starten. Bitte versuchen Sie es gleich noch einmal.',
  'nettest.ok': 'offen',
  'nettest.closed': 'blockiert',
  'nettest.notOffered': 'nicht angeboten',
  'nettest.details': 'UDP: {udp} · TCP: {tcp} · TLS: {tls}',
  'nettest.measured': 'Umlaufzeit etwa {rtt} ms, etwa {kbps} kbit/s',
  'call.devicesDenied': 'Kamera und Mikrofon sind für diese Seite nicht erlaubt. Sie können trotzdem beitreten – Ihr Gegenüber sieht und hört Sie dann aber nicht.',
  'call.devicesDeniedSteps': 'So erlauben Sie den Zugriff: Tippen oder klicken Sie links neben der Adresse auf das Symbol (Schloss, Kamera oder „aA“ auf dem iPhone), erlauben Sie Kamera und Mikrofon und wählen Sie dann „Erneut versuchen“.',
  'call.devicesRetry': 'Erneut versuchen',
  'call.previewEmpty': 'Kein Kamerabild',
  'call.knockTitle': 'Jemand wartet – {title}',
  'call.devicesMissing': 'Keine Kamera und kein Mikrofon gefunden. Sie können trotzdem beitreten – Ihr Gegenüber sieht und hört Sie dann aber nicht.',
  'call.audioOnly': 'Keine Kamera verfügbar – Sie treten nur mit Ton bei.',
  'call.videoOnly': 'Kein Mikrofon verfügbar – Sie treten nur mit Bild bei.',
  'call.devicesBusy': 'Kamera oder Mikrofon werden gerade von einem anderen Programm benutzt. Schließen Sie das andere Programm und wählen Sie „Erneut versuchen“.',
  'call.insecure': 'Kamera und Mikrofon sind nur über eine sichere Verbindung (https) verfügbar.',
  'call.connecting': 'Verbindung wird hergestellt …',
  'call.reconnecting': 'Verbindung unterbrochen – neuer Versuch …',
  'call.serverReconnecting': 'Die Verbindung zum Server wird wiederhergestellt. Ihr Gespräch läuft weiter.',
  'call.waitingRoom': 'Sie sind im Wartezimmer.',
  'call.waitingTitle': 'Wartezimmer',
  'call.waitingText': 'Sobald Ihre Therapeutin oder Ihr Therapeut die Sprechstunde öffnet, sieht sie oder er, dass Sie warten. Bitte lassen Sie diese Seite offen.',
  'call.waitingForClient': 'Sie warten auf Ihre Klientin oder Ihren Klienten.',
  'call.knocking': 'Ihre Klientin oder Ihr Klient wartet im Wartezimmer.',
  'call.knockQuestion': 'Möchten Sie sie oder ihn jetzt eintreten lassen?',
  'call.admit': 'Eintreten lassen',
  'call.decline': 'Jetzt nicht',
  'call.inCall': 'Im Gespräch',
  'call.startingMedia': 'Bild und Ton werden verbunden …',
  'call.peerInterrupted': 'Die Verbindung zu Ihrem Gegenüber ist unterbrochen. Bitte warten Sie einen Moment.',
  'call.clientLeft': 'Ihre Klientin oder Ihr Klient hat das Gespräch verlassen. Sie bleiben im Raum; mit demselben Link kann sie oder er wieder anklopfen.',
  'call.peerHungUp': 'Ihre Therapeutin oder Ihr Therapeut hat das Gespräch beendet.',
  'call.ended': 'Gespräch beendet',
  'call.declined': 'Ihre Therapeutin oder Ihr Therapeut kann Sie gerade nicht einlassen.',
  'call.endTitle': 'Das Gespräch ist beendet',
  'call.endClient': 'Sie können dieses Fenster jetzt schließen. Haben Sie versehentlich aufgelegt? Dann treten Sie mit demselben Link wieder bei.',
  'call.endByTherapist': 'Sie können dieses Fenster jetzt schließen. Soll das Gespräch weitergehen, treten Sie mit demselben Link wieder bei.',
  'call.leftWaitingRoom': 'Sie haben das Wartezimmer verlassen.',
  'call.leftTitle': 'Sie haben das Wartezimmer verlassen',
  'call.leftText': 'Mit demselben Link können Sie jederzeit wieder anklopfen.',
  'call.elsewhereTitle': 'In einem anderen Fenster geöffnet',
  'call.closedClient': 'Sie können dieses Fenster jetzt schließen. Für einen neuen Termin erhalten Sie von Ihrer Praxis einen neuen Link.',
  'call.endTherapist': 'Die Sitzung bleibt offen, bis Sie sie in der Übersicht beenden. Ihre Klientin oder Ihr Klient kann mit demselben Link wieder anklopfen.',
  'call.declinedTitle': 'Gerade nicht möglich',
  'call.declinedText': 'Sie können es später mit demselben Link erneut versuchen oder Ihre Praxis auf dem gewohnten Weg kontaktieren.',
  'call.errorTitle': 'Das hat nicht geklappt',
  'call.errorRetry': 'Bitte versuchen Sie es noch einmal. Geschieht das wieder, wenden Sie sich an Ihre Praxis.',
  'call.linkTitle': 'Dieser Link funktioniert nicht',
  'call.errorLinkTherapist': 'Öffnen Sie die Sitzung bitte aus der Übersicht neu.',
  'call.rejoin': 'Wieder beitreten',
  'call.knockAgain': 'Erneut anklopfen',
  'call.retry': 'Neu verbinden',
  'call.toDashboard': 'Zur Übersicht',
  'call.leave': 'Wartezimmer verlassen',
  'call.mute': 'Stummschalten',
  'call.unmute': 'Ton einschalten',
  'call.cameraOff': 'Kamera ausschalten',
  'call.cameraOn': 'Kamera einschalten',
  'call.hangup': 'Auflegen',
  'call.hangupQuestionTherapist': 'Gespräch beenden? Ihre Klientin oder Ihr Klient kann mit demselben Link wieder anklopfen.',
  'call.hangupQuestionClient': 'Gespräch wirklich verlassen?',
  'call.hangupConfirm': 'Beenden',
  'call.hangupCancel': 'Weiter sprechen',
  'call.controls': 'Gespräch',
  'call.details': 'Details zur Verbindung',
  'call.shortcuts': 'Tastenkürzel: Alt+M Mikrofon, Alt+K Kamera.',
  'call.noticeClose': 'Schließen',
  'call.linkInUse': 'Jemand hat versucht, mit dem Link Ihrer Klientin oder Ihres Klienten beizutreten, während sie oder er schon verbunden war. Der Zutritt wurde verweigert.',
  'call.timer': 'Gesprächsdauer {time}',
  'group.therapist': 'Therapeut·in',
  'group.seat': 'Platz {seat}',
  'group.tile': 'Video von {name}',
  'group.micOff': 'Mikrofon aus',
  'group.cameraOff': 'Kamera aus',
  'group.askMute': 'Um Stummschalten bitten',
  'group.asked': 'Gebeten',
  'group.remove': 'Aus dem Gespräch entfernen',
  'group.removeConfirm': 'Wirklich entfernen?',
  'group.waiting': 'Im Wartezimmer',
  'group.admitOne': 'Eintreten lassen',
  'group.admitAll': 'Alle eintreten lassen',
  'group.declineOne': 'Jetzt nicht',
  'group.muteAsk': 'Ihre Therapeutin oder Ihr Therapeut bittet Sie, Ihr Mikrofon auszuschalten.',
  'group.muteAccept': 'Mikrofon ausschalten',
  'group.muteRefuse': 'Nein, danke',
  'group.sasHelp': 'Alle im Gespräch sehen denselben Code, wenn niemand mithört. Vergleichen Sie ihn gemeinsam, zum Beispiel indem eine Person ihn vorliest.',
  'group.needsSfu': 'Mehr als drei Personen sind in diesem Dienst nicht möglich: Er hat keinen Medienserver für Gruppen. Das Gespräch geht mit den bisherigen Personen weiter.',
  'call.remoteVideo': 'Video Ihres Gegenübers',
  'call.localVideo': 'Ihr eigenes Video',
  'call.closed': 'Die Verbindung zum Server wurde unerwartet beendet.',
  'call.gaveUp': 'Die Verbindung zum Server konnte nicht wiederhergestellt werden.',
  'call.clientLabel': 'Sitzung {clientId}',
  'call.recovering': 'Die Verbindung wird wiederhergestellt …',
  'call.incompatible': 'Ihr Browser und der Ihres Gegenübers konnten die Verbindung nicht aufbauen, und ein neuer Versuch ändert daran nichts. Bitte öffnen Sie den Link in einem anderen, aktuellen Browser (zum Beispiel Firefox, Chrome, Edge oder Safari); es genügt, wenn eine Seite wechselt.',
  'call.noRelay': 'Es konnte keine Verbindung zu Ihrem Gegenüber aufgebaut werden. Bitte versuchen Sie es in einem anderen Netzwerk (zum Beispiel über das Mobilnetz statt über das WLAN). Wir versuchen es weiter.',
  'call.compatMode': 'Kompatibilitätsmodus',
  'call.compatHelp': 'für Netzwerke, die Videoanrufe blockieren',
  'call.compatOn': 'Kompatibilitätsmodus ist an: Die Verbindung läuft über den Server dieses Dienstes.',
  'call.compatAuto': 'Die Verbindung kam nicht zustande – der Kompatibilitätsmodus wurde eingeschaltet.',
  'call.compatUnavailable': 'Auf diesem Dienst nicht verfügbar.',
  'call.relayOnly': 'Nur über den Server verbinden',
  'call.relayOnlyHelp': 'Alle Daten laufen über den Server dieses Dienstes; keine Seite erfährt die Internetadresse der anderen.',
  'call.relayOnlyOn': 'an',
  'call.relayOnlyOff': 'aus',
  'call.relayOnlyPending': 'wird umgestellt …',
  'call.relayOnlyUnavailable': 'Auf diesem Dienst nicht verfügbar.',

  'remote.cameraOff': 'Kamera ist aus',
  'remote.cameraNone': 'Keine Kamera',
  'remote.micOff': 'Mikrofon ist stumm',
  'remote.micNone': 'Kein Mikrofon',
  'remote.audioOnly': 'Ihr Gegenüber hat „Nur Ton“ gewählt',
  'remote.noDevices': 'Ihr Gegenüber hat weder Kamera noch Mikrofon – Sie sehen und hören sie oder ihn nicht.',
  'remote.reconnecting': 'Verbindung wird wiederhergestellt …',
  'remote.noDevicesKnock': 'Ohne Kamera und Mikrofon: Sie werden sie oder ihn weder sehen noch hören.',
  'self.muted': 'Sie sind stummgeschaltet',

  'e2ee.negotiating': 'Verschlüsselung wird eingerichtet …',
  'e2ee.active': 'Ende-zu-Ende verschlüsselt',
  'e2ee.keyAgeNew': 'Schlüssel zuletzt erneuert vor weniger als 1 Min.',
  'e2ee.keyAge': 'Schlüssel zuletzt erneuert vor {minutes} Min.',
  'e2ee.verified': 'verifiziert',
  'e2ee.dtlsOnly': 'Nur Transportverschlüsselung',
  'e2ee.failed': 'Ende-zu-Ende-Verschlüsselung fehlgeschlagen',
  'e2ee.unsupported': 'Ende-zu-Ende-Verschlüsselung nicht möglich',
  'e2ee.failedCall': 'Das Gespräch konnte nicht Ende-zu-Ende verschlüsselt werden. Zu Ihrem Schutz wurden Bild und Ton beendet. Bitte versuchen Sie es erneut.',
  'e2ee.unsupportedCall': 'Das Gespräch kann nicht Ende-zu-Ende verschlüsselt werden: Ein beteiligter Browser unterstützt das nicht. Zu Ihrem Schutz wurden Bild und Ton beendet. Bitte verwenden Sie einen aktuellen Browser (z. B. Chrome, Edge, Firefox oder Safari).',
  'e2ee.sasLabel': 'Sicherheitscode:',
  'e2ee.sasHelpTherapist': 'Bitten Sie Ihr Gegenüber, den Code vorzulesen. Stimmt er mit Ihrem überein, hört niemand mit – dann bestätigen Sie.',
  'e2ee.sasHelpClient': 'Bitte lesen Sie diesen Code vor, wenn Ihre Therapeutin oder Ihr Therapeut Sie darum bittet. Sie oder er vergleicht ihn mit dem eigenen: Stimmt er überein, hört niemand mit.',
  'e2ee.sasConfirmedTherapist': 'Sie haben bestätigt, dass der Code übereinstimmt.',
  'e2ee.sasConfirmedClient': 'Ihre Therapeutin oder Ihr Therapeut hat bestätigt: Der Code stimmt, niemand hört mit.',
  'e2ee.verify': 'Code stimmt überein',

  'conn.new': 'Noch nicht verbunden',
  'conn.connecting': 'Verbindung wird aufgebaut',
  'conn.connected': 'Verbunden',
  'conn.disconnected': 'Verbindung gestört',
  'conn.failed': 'Verbindung fehlgeschlagen',
  'conn.closed': 'Verbindung getrennt',
  'conn.p2p': 'Direkte Verbindung',
  'conn.relay': 'Über den Server dieses Dienstes',
  'conn.relayUdp': 'Über den Server dieses Dienstes (UDP)',
  'conn.relayTcp': 'Über den Server dieses Dienstes (TCP)',
  'conn.relayTls': 'Über den Server dieses Dienstes (TLS)',
  'quality.label': 'Verbindungsqualität',
  'quality.send': 'Senden',
  'quality.receive': 'Empfangen',
  'quality.good': 'gut',
  'quality.fair': 'mäßig',
  'quality.poor': 'schwach',
  'quality.unknown': '–',
  'quality.audioOnly': 'Nur Ton',
  'quality.audioOnlyHelp': 'ohne Bild, wenn die Verbindung schwach ist',
  'quality.pausedWeak': 'Video angehalten: Die Verbindung ist zu schwach.',
  'quality.pausedManual': 'Video angehalten: „Nur Ton“ ist gewählt.',
  'sound.enable': 'Ton für Benachrichtigungen',

  'midcall.devices': 'Kamera, Mikrofon und Lautsprecher',
  'midcall.cameraLost': 'Ihre Kamera ist ausgefallen und ließ sich nicht wieder einschalten. Vielleicht benutzt ein anderes Programm sie oder sie wurde getrennt. Prüfen Sie die Kamera und wählen Sie dann „Kamera einschalten“.',
  'midcall.micLost': 'Ihr Mikrofon ist ausgefallen und ließ sich nicht wieder einschalten. Vielleicht benutzt ein anderes Programm es oder es wurde getrennt. Prüfen Sie das Mikrofon und wählen Sie dann „Ton einschalten“.',
  'midcall.switchFailed': 'Das gewählte Gerät ließ sich nicht einschalten. Das bisherige bleibt in Gebrauch.',
  'midcall.startSound': 'Ton Ihres Gegenübers einschalten',
};

/** @typedef {keyof typeof de} MessageKey */

/** @type {Record<MessageKey, string>} */
const en = {
  'app.name': 'Sprechzimmer',
  'lang.label': 'Language',
  'lang.de': 'Deutsch',
  'lang.en': 'English',
  'legal.nav': 'Legal',
  'legal.terms': 'Terms of use',
  'legal.privacy': 'Privacy',
  'legal.imprint': 'Imprint',

  'login.title': 'Sign-in for therapists',
  'login.code': 'User code',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.busy': 'Signing in …',
  'login.hint': 'Are you a client? Simply open the link you were sent.',

  'error.network': 'The server cannot be reached. Please check your internet connection.',
  'error.unexpected': 'Something went wrong. Please try again.',
  'error.linkInvalid': 'This link does not work. It may be incomplete, expired or withdrawn. Please ask your therapist for a new link.',
  'error.linkExpired': 'This link has expired. Please ask your therapist for a new link.',
  'error.linkRevoked': 'This consultation has been closed; the link no longer works. Please contact your therapist.',
  'error.occupied': 'Someone is already in this consultation with this link. If that is you in another window or on another device, please continue there. Otherwise please ask your therapist for a new link.',
  'error.linkInUse': 'Someone tried to join with your client\'s link while your client is already connected.',

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
  'dashboard.seats': 'Clients in the call',
  'dashboard.seatsHelp': 'For couples, family and group therapy: each person gets their own link.',
  'dashboard.seatLink': 'Link for person {seat}',
  'dashboard.createdGroup': 'Session for {clientId} with {count} people created. Send each person their own link through your own channel; a link is for one person only:',
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
  'dashboard.eraseHelp': '"Delete record" is for a real name typed by mistake: afterwards this session and its ID are stored nowhere (other sessions with the same ID stay).',
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
  'retention.purgeSoon': 'The connection data of these months will soon be past its retention: the start and end times of their sessions will be deleted, the minutes stay. If you need the times, download the CSV now:',

  'clientId.warn.email': 'This looks like an e-mail address.',
  'clientId.warn.phone': 'This looks like a phone number.',
  'clientId.warn.name': 'This looks like a real name.',
  'clientId.warn.hint': 'Please use a pseudonym (e.g. "K-2041"). You can still go ahead.',

  'call.title': 'Video consultation',
  'call.badLink': 'This link is incomplete. Please open the link exactly as you received it – best by tapping or clicking it in the message.',
  'call.linkChecking': 'Checking your link …',
  'call.deviceCheck': 'Please check your camera and microphone.',
  'call.deviceTitle': 'Camera and microphone',
  'call.camera': 'Camera',
  'call.microphone': 'Microphone',
  'call.speaker': 'Speaker',
  'call.speakerDefault': 'Default',
  'call.speakerTest': 'Test sound',
  'call.noDevice': 'None',
  'call.level': 'Microphone level',
  'call.join': 'Join',
  'name.label': 'How would you like to be addressed?',
  'name.labelOptional': 'How would you like to be addressed? (optional)',
  'name.hint': 'For example “Ms Miller” or “Maria”. Only your therapist sees this name; it is not stored anywhere.',
  'name.missing': 'Please enter how you would like to be addressed.',
  'name.tooLong': 'Please shorten the name to at most {max} characters.',
  'name.control': 'The name must not contain control characters such as line breaks or tabs. Please enter it again.',
  'name.peerLabel': 'Name as the other person gave it',
  'consent.before': 'I agree to the ',
  'consent.terms': 'terms of use',
  'consent.between': ' and have read the ',
  'consent.privacy': 'privacy notice',
  'consent.after': '.',
  'consent.termsHref': '/terms',
  'consent.privacyHref': '/privacy',
  'consent.missing': 'Please confirm the terms of use and the privacy notice to join.',
  'consent.confirmed': 'Consent confirmed',
  'roomcheck.question': 'Are you undisturbed? Please introduce everyone present.',
  'roomcheck.done': 'Done',

  'chat.open': 'Chat',
  'chat.openUnread': 'Chat, {count} unread',
  'chat.title': 'Messages',
  'chat.close': 'Close',
  'chat.note': 'Messages go directly and encrypted to the other person and are stored nowhere.',
  'chat.input': 'Write a message',
  'chat.send': 'Send',
  'chat.me': 'You',
  'chat.peer': 'Other person',
  'chat.pending': 'being delivered …',
  'chat.empty': 'Please write a message first.',
  'chat.tooLong': 'The message is too long: at most {max} characters.',
  'chat.tooFast': 'Please wait a moment: at most 5 messages in 5 seconds.',
  'exit.button': 'Leave now',
  'exit.help': 'Leaves the call at once and shows a neutral page (also: Escape twice).',
  'exit.peerLeft': 'The person left the call abruptly.',
  'safety.hint': 'Optional, only in case the connection drops: the other person sees it only then. Stored nowhere.',
  'safety.phone': 'Your phone number',
  'safety.locationLabel': 'Where you are right now',
  'safety.title': "The client's safety net",
  'safety.call': 'Call: {phone}',
  'safety.location': 'Whereabouts: {location}',

  'pause.pause': 'Pause',
  'pause.resume': 'Resume',
  'pause.ownSince': 'Paused since {time}. Camera and microphone are off on both sides; you neither see nor hear the other person. “Resume” ends the pause.',
  'pause.peerSince': 'Paused since {time}: the other person paused the conversation. Your camera and microphone are off until then too.',
  'screen.share': 'Share screen',
  'screen.stop': 'Stop sharing',
  'screen.own': 'You are sharing your screen. The other person sees it instead of your camera, end-to-end encrypted.',
  'screen.peer': "You are seeing the other person's screen.",
  'screen.failed': 'The screen could not be shared. Your camera stays in use.',

  'nettest.start': 'Test the network',
  'nettest.again': 'Test again',
  'nettest.running': 'Testing (about 10 seconds) …',
  'nettest.help': 'Checks the connection to this service’s server, without camera and microphone.',
  'nettest.video': 'Your connection is good enough for video.',
  'nettest.audioOnly': 'Audio only recommended: your connection is tight for video.',
  'nettest.compat': 'Your network blocks UDP; compatibility mode helps. It switches itself on when needed.',
  'nettest.compatAudio': 'Your network blocks UDP; compatibility mode helps. Audio only recommended: the connection is tight for video.',
  'nettest.tooSlow': 'Your connection is very slow right now. Another network (e.g. Wi-Fi instead of mobile data) may help.',
  'nettest.blocked': 'Your network lets no connection to this service’s server through. Please try another network, or ask whoever runs your network.',
  'nettest.noRelay': 'This service has no relay server of its own: the test can only tell that this server is reachable (it is). Whether a direct connection works shows only in the call.',
  'nettest.unmeasured': 'This service’s server is reachable; the speed could not be measured.',
  'nettest.failed': 'The test could not start. Please try again in a moment.',
  'nettest.ok': 'open',
  'nettest.closed': 'blocked',
  'nettest.notOffered': 'not offered',
  'nettest.details': 'UDP: {udp} · TCP: {tcp} · TLS: {tls}',
  'nettest.measured': 'round trip about {rtt} ms, about {kbps} kbit/s',
  'call.devicesDenied': 'Camera and microphone are not allowed for this page. You can still join – but the other person will neither see nor hear you.',
  'call.devicesDeniedSteps': 'To allow access: tap or click the symbol left of the address (a lock, a camera, or "aA" on an iPhone), allow camera and microphone, then choose "Try again".',
  'call.devicesRetry': 'Try again',
  'call.previewEmpty': 'No camera picture',
  'call.knockTitle': 'Someone is waiting – {title}',
  'call.devicesMissing': 'No camera and no microphone found. You can still join – but the other person will neither see nor hear you.',
  'call.audioOnly': 'No camera available – you join with sound only.',
  'call.videoOnly': 'No microphone available – you join with video only.',
  'call.devicesBusy': 'Camera or microphone is being used by another program. Close the other program and choose "Try again".',
  'call.insecure': 'Camera and microphone are only available over a secure connection (https).',
  'call.connecting': 'Connecting …',
  'call.reconnecting': 'Connection lost – trying again …',
  'call.serverReconnecting': 'Reconnecting to the server. Your conversation continues.',
  'call.waitingRoom': 'You are in the waiting room.',
  'call.waitingTitle': 'Waiting room',
  'call.waitingText': 'As soon as your therapist opens the consultation, they see that you are waiting. Please keep this page open.',
  'call.waitingForClient': 'You are waiting for your client.',
  'call.knocking': 'Your client is in the waiting room.',
  'call.knockQuestion': 'Would you like to let them in now?',
  'call.admit': 'Let in',
  'call.decline': 'Not now',
  'call.inCall': 'In conversation',
  'call.startingMedia': 'Connecting picture and sound …',
  'call.peerInterrupted': 'The connection to the other person is interrupted. Please wait a moment.',
  'call.clientLeft': 'Your client has left the conversation. You stay in the room; they can knock again with the same link.',
  'call.peerHungUp': 'Your therapist has ended the conversation.',
  'call.ended': 'Conversation ended',
  'call.declined': 'Your therapist cannot let you in right now.',
  'call.endTitle': 'The conversation has ended',
  'call.endClient': 'You can close this window now. Did you hang up by mistake? Then join again with the same link.',
  'call.endByTherapist': 'You can close this window now. If the conversation is to go on, join again with the same link.',
  'call.leftWaitingRoom': 'You left the waiting room.',
  'call.leftTitle': 'You left the waiting room',
  'call.leftText': 'You can knock again at any time with the same link.',
  'call.elsewhereTitle': 'Open in another window',
  'call.closedClient': 'You can close this window now. For a new appointment your practice will send you a new link.',
  'call.endTherapist': 'The session stays open until you end it in the overview. Your client can knock again with the same link.',
  'call.declinedTitle': 'Not possible right now',
  'call.declinedText': 'You can try again later with the same link, or contact your practice the usual way.',
  'call.errorTitle': 'That did not work',
  'call.errorRetry': 'Please try once more. If it happens again, contact your practice.',
  'call.linkTitle': 'This link does not work',
  'call.errorLinkTherapist': 'Please open the session again from the overview.',
  'call.rejoin': 'Join again',
  'call.knockAgain': 'Knock again',
  'call.retry': 'Connect again',
  'call.toDashboard': 'To the overview',
  'call.leave': 'Leave the waiting room',
  'call.mute': 'Mute',
  'call.unmute': 'Unmute',
  'call.cameraOff': 'Stop camera',
  'call.cameraOn': 'Start camera',
  'call.hangup': 'Hang up',
  'call.hangupQuestionTherapist': 'End the conversation? Your client can knock again with the same link.',
  'call.hangupQuestionClient': 'Really leave the conversation?',
  'call.hangupConfirm': 'End',
  'call.hangupCancel': 'Keep talking',
  'call.controls': 'Conversation',
  'call.details': 'Connection details',
  'call.shortcuts': 'Shortcuts: Alt+M microphone, Alt+K camera.',
  'call.noticeClose': 'Close',
  'call.linkInUse': 'Someone tried to join with your client\'s link while your client was already connected. They were not let in.',
  'call.timer': 'Duration {time}',
  'group.therapist': 'Therapist',
  'group.seat': 'Seat {seat}',
  'group.tile': 'Video of {name}',
  'group.micOff': 'Microphone off',
  'group.cameraOff': 'Camera off',
  'group.askMute': 'Ask to mute',
  'group.asked': 'Asked',
  'group.remove': 'Remove from the call',
  'group.removeConfirm': 'Really remove?',
  'group.waiting': 'In the waiting room',
  'group.admitOne': 'Let in',
  'group.admitAll': 'Let everyone in',
  'group.declineOne': 'Not now',
  'group.muteAsk': 'Your therapist asks you to turn off your microphone.',
  'group.muteAccept': 'Turn off microphone',
  'group.muteRefuse': 'No, thanks',
  'group.sasHelp': 'Everyone in the call sees the same code when nobody is listening in. Compare it together, for example by one person reading it out.',
  'group.needsSfu': 'This service cannot hold more than three people: it has no media server for groups. The call goes on with those already in it.',
  'call.remoteVideo': 'Video of the other person',
  'call.localVideo': 'Your own video',
  'call.closed': 'The connection to the server ended unexpectedly.',
  'call.gaveUp': 'The connection to the server could not be restored.',
  'call.clientLabel': 'Session {clientId}',
  'call.recovering': 'Restoring the connection …',
  'call.incompatible': 'Your browser and the other person\'s could not set up the connection, and trying again will not change that. Please open the link in another, up-to-date browser (for example Firefox, Chrome, Edge or Safari); it is enough if one side switches.',
  'call.noRelay': 'No connection to the other person could be made. Please try another network (for example mobile data instead of Wi-Fi). We keep trying.',
  'call.compatMode': 'Compatibility mode',
  'call.compatHelp': 'for networks that block video calls',
  'call.compatOn': 'Compatibility mode is on: the connection goes through this service\'s server.',
  'call.compatAuto': 'The connection could not be made – compatibility mode was switched on.',
  'call.compatUnavailable': 'Not available on this service.',
  'call.relayOnly': 'Connect only through the server',
  'call.relayOnlyHelp': 'All data goes through this service\'s server; neither side learns the other\'s internet address.',
  'call.relayOnlyOn': 'on',
  'call.relayOnlyOff': 'off',
  'call.relayOnlyPending': 'switching …',
  'call.relayOnlyUnavailable': 'Not available on this service.',

  'remote.cameraOff': 'Camera is off',
  'remote.cameraNone': 'No camera',
  'remote.micOff': 'Microphone is muted',
  'remote.micNone': 'No microphone',
  'remote.audioOnly': 'The other person chose "Audio only"',
  'remote.noDevices': 'The other person has neither camera nor microphone – you can neither see nor hear them.',
  'remote.reconnecting': 'Restoring the connection …',
  'remote.noDevicesKnock': 'Without camera and microphone: you will neither see nor hear them.',
  'self.muted': 'You are muted',

  'e2ee.negotiating': 'Setting up encryption …',
  'e2ee.active': 'End-to-end encrypted',
  'e2ee.keyAgeNew': 'Key last renewed less than 1 min ago',
  'e2ee.keyAge': 'Key last renewed {minutes} min ago',
  'e2ee.verified': 'verified',
  'e2ee.dtlsOnly': 'Transport encryption only',
  'e2ee.failed': 'End-to-end encryption failed',
  'e2ee.unsupported': 'End-to-end encryption not possible',
  'e2ee.failedCall': 'The call could not be end-to-end encrypted. To protect you, picture and sound were stopped. Please try again.',
  'e2ee.unsupportedCall': 'The call cannot be end-to-end encrypted: one of the browsers does not support it. To protect you, picture and sound were stopped. Please use a current browser (e.g. Chrome, Edge, Firefox or Safari).',
  'e2ee.sasLabel': 'Security code:',
  'e2ee.sasHelpTherapist': 'Ask the other person to read out the code. If it matches yours, nobody is listening in – then confirm.',
  'e2ee.sasHelpClient': 'Please read out this code when your therapist asks you to. They compare it with theirs: if it matches, nobody is listening in.',
  'e2ee.sasConfirmedTherapist': 'You confirmed that the code matches.',
  'e2ee.sasConfirmedClient': 'Your therapist has confirmed: the code matches, nobody is listening in.',
  'e2ee.verify': 'Code matches',

  'conn.new': 'Not connected yet',
  'conn.connecting': 'Connecting',
  'conn.connected': 'Connected',
  'conn.disconnected': 'Connection disturbed',
  'conn.failed': 'Connection failed',
  'conn.closed': 'Disconnected',
  'conn.p2p': 'Direct connection',
  'conn.relay': 'Through this service\'s server',
  'conn.relayUdp': 'Through this service\'s server (UDP)',
  'conn.relayTcp': 'Through this service\'s server (TCP)',
  'conn.relayTls': 'Through this service\'s server (TLS)',
  'quality.label': 'Connection quality',
  'quality.send': 'Sending',
  'quality.receive': 'Receiving',
  'quality.good': 'good',
  'quality.fair': 'fair',
  'quality.poor': 'weak',
  'quality.unknown': '–',
  'quality.audioOnly': 'Audio only',
  'quality.audioOnlyHelp': 'without picture, when the connection is weak',
  'quality.pausedWeak': 'Video paused: the connection is too weak.',
  'quality.pausedManual': 'Video paused: "Audio only" is chosen.',
  'sound.enable': 'Sound for notifications',

  'midcall.devices': 'Camera, microphone and speaker',
  'midcall.cameraLost': 'Your camera stopped and could not be turned back on. Another program may be using it, or it was disconnected. Check the camera, then choose "Start camera".',
  'midcall.micLost': 'Your microphone stopped and could not be turned back on. Another program may be using it, or it was disconnected. Check the microphone, then choose "Unmute".',
  'midcall.switchFailed': 'The chosen device could not be turned on. The previous one stays in use.',
  'midcall.startSound': "Turn on the other person's sound",
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
