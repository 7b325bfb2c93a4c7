// The footer's legal links: one path per page and language, switched with the
// page's language, and present on every page the server serves from static/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEGAL_PATHS, legalHref, updateLegalLinks } from '../../src/sprechzimmer/static/js/legallinks.js';

const STATIC = fileURLToPath(new URL('../../src/sprechzimmer/static/', import.meta.url));
const PAGES = ['terms', 'privacy', 'imprint'];

test('each page has its own path in each language', () => {
  assert.equal(legalHref('de', 'terms'), '/nutzungsbedingungen');
  assert.equal(legalHref('en', 'privacy'), '/privacy');
  assert.equal(legalHref('xx', 'imprint'), '/impressum', 'an unknown language falls back to German');
  assert.equal(legalHref('de', 'toString'), null, 'only our own pages, not inherited keys');
  const all = PAGES.flatMap((p) => [legalHref('de', p), legalHref('en', p)]);
  assert.equal(new Set(all).size, 6);
  assert.deepEqual(Object.keys(LEGAL_PATHS.de).sort(), [...PAGES].sort());
});

test('updateLegalLinks points each marked link at its page in the language', () => {
  /** @param {string} page */
  const link = (page) => {
    /** @type {Record<string, string>} */
    const attrs = { 'data-legal': page, href: '/nutzungsbedingungen' };
    return {
      attrs,
      getAttribute: (/** @type {string} */ name) => attrs[name] ?? null,
      setAttribute: (/** @type {string} */ name, /** @type {string} */ value) => { attrs[name] = value; },
    };
  };
  const links = [link('terms'), link('privacy'), link('unknown')];
  const root = /** @type {ParentNode} */ (/** @type {unknown} */ ({ querySelectorAll: () => links }));
  updateLegalLinks(root, 'en');
  assert.deepEqual(links.map((l) => l.attrs.href), ['/terms', '/privacy', '/nutzungsbedingungen']);
  updateLegalLinks(root, 'de');
  assert.deepEqual(links.map((l) => l.attrs.href), ['/nutzungsbedingungen', '/datenschutz', '/nutzungsbedingungen']);
});

test('every page has the footer, in German first, and loads the module', () => {
  // neutral.html is what the client's quick exit leaves in the tab: it must
  // look like an empty tab and name nothing, not even us (quickexit.js).
  const pages = readdirSync(STATIC).filter((f) => f.endsWith('.html') && f !== 'neutral.html');
  assert.ok(pages.length >= 3, pages.join());
  for (const file of pages) {
    const html = readFileSync(join(STATIC, file), 'utf8');
    assert.match(html, /<script type="module" src="\/static\/js\/legallinks\.js"><\/script>/, file);
    const footer = html.match(/<footer class="legal-footer">([\s\S]*?)<\/footer>/);
    assert.ok(footer, `${file}: no legal footer`);
    for (const page of PAGES) {
      const re = new RegExp(`<a href="([^"]+)" data-legal="${page}" data-i18n="legal\\.${page}"`);
      const found = footer[1].match(re);
      assert.ok(found, `${file}: no link to ${page}`);
      assert.equal(found[1], legalHref('de', page), `${file}: ${page}`);
    }
  }
});
