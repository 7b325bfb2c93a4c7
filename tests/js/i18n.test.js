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
    for (const m of js.matchAll(/'((?:call|conn|dashboard|login|error|clientId)\.[\w.]+)'/g)) used.add(m[1]);
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
