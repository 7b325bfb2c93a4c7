// Both languages have every sentence, and every key the pages name exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DICTIONARIES, LANGS, translate } from '../../src/sprechzimmer/static/js/i18n.js';

const STATIC = fileURLToPath(new URL('../../src/sprechzimmer/static/', import.meta.url));

test('de and en have the same keys, none empty', () => {
  const de = Object.keys(DICTIONARIES.de).sort();
  const en = Object.keys(DICTIONARIES.en).sort();
  assert.deepEqual(en, de);
  for (const lang of LANGS) {
    for (const [key, text] of Object.entries(DICTIONARIES[lang])) {
      assert.ok(typeof text === 'string' && text.trim().length > 0, `${lang}:${key}`);
    }
  }
});

test('placeholders agree between languages', () => {
  const names = (/** @type {string} */ s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  for (const [key, text] of Object.entries(DICTIONARIES.de)) {
    assert.deepEqual(names(DICTIONARIES.en[/** @type {keyof typeof DICTIONARIES.en} */ (key)]), names(text), key);
  }
});

test('translate fills placeholders and shows unknown keys as themselves', () => {
  assert.equal(translate('en', 'dashboard.loggedInAs', { code: 'thx' }), 'Signed in as thx');
  assert.equal(translate('de', 'no.such.key'), 'no.such.key');
});

test('every key used in the pages and scripts exists', () => {
  const used = new Set();
  for (const file of readdirSync(STATIC)) {
    if (!file.endsWith('.html')) continue;
    const html = readFileSync(join(STATIC, file), 'utf8');
    for (const m of html.matchAll(/data-i18n(?:-label|-placeholder|-title)?="([^"]+)"/g)) used.add(m[1]);
  }
  const jsDir = join(STATIC, 'js');
  for (const file of readdirSync(jsDir)) {
    const js = readFileSync(join(jsDir, file), 'utf8');
    // Literal keys passed to t()/say()/serverMessage() fallbacks.
    for (const m of js.matchAll(/\b(?:t|say)\(\s*'([a-zA-Z]+\.[\w.]+)'/g)) used.add(m[1]);
    for (const m of js.matchAll(/'((?:call|conn|dashboard|login|error|clientId|remote|self|e2ee|quality)\.[\w.]+)'/g)) used.add(m[1]);
  }
  assert.ok(used.size > 40, `found only ${used.size} keys`);
  for (const key of used) assert.ok(Object.hasOwn(DICTIONARIES.de, key), `missing key ${key}`);
});

test('the pages load scripts only from our origin and have no inline script or style', () => {
  for (const file of readdirSync(STATIC)) {
    if (!file.endsWith('.html')) continue;
    const html = readFileSync(join(STATIC, file), 'utf8');
    assert.doesNotMatch(html, /\bon[a-z]+="/, `${file}: inline event handler`);
    assert.doesNotMatch(html, /\sstyle="/, `${file}: inline style`);
    assert.doesNotMatch(html, /https?:\/\//, `${file}: absolute URL`);
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
      assert.match(m[1], /src="\/static\//, `${file}: script without a local src`);
      assert.equal(m[2].trim(), '', `${file}: inline script`);
    }
  }
});

// docs/german-style.md: the rules a machine can check.
test('one inclusive German style: no slashes, stars, colons or generic masculine', () => {
  const banned = [
    [/\w\/in\b/, 'a slash form ("Therapeut/in")'],
    [/(?:Klientin|Klient|Therapeutin|Therapeut) \/ /, 'a slashed pair ("Klientin / Klient")'],
    [/\w[*:]in(?:nen)?\b/, 'a gender star or colon'],
    [/\b(?:Klienten|Therapeuten)-?Kennung/, 'the generic masculine'],
    [/die andere Seite|der anderen Seite/, 'the anglicism "die andere Seite" (say "Ihr Gegenüber")'],
    [/\bLink neu\b/, 'the abbreviation "Link neu"'],
  ];
  for (const [key, text] of Object.entries(DICTIONARIES.de)) {
    for (const [pattern, what] of banned) assert.doesNotMatch(text, /** @type {RegExp} */ (pattern), `de:${key} uses ${what}`);
  }
});

test('no jargon and no close codes in what the call shows outside its details', () => {
  // The connection details (conn.*, the network switches' help) may name the
  // path in plain words; the call itself must not need a dictionary.
  const inCall = (/** @type {string} */ key) => /^(call|remote|self|e2ee|quality)\./.test(key) && !/^call\.(compat|relayOnly)/.test(key);
  for (const lang of LANGS) {
    for (const [key, text] of Object.entries(DICTIONARIES[lang])) {
      if (!inCall(key)) continue;
      assert.doesNotMatch(text, /\b(?:P2P|TURN|Relay|DTLS|SRTP|ICE|SDP|WebRTC)\b/, `${lang}:${key}`);
      assert.doesNotMatch(text, /\{code\}|\(Code \d+\)/, `${lang}:${key} shows a close code`);
    }
  }
});
