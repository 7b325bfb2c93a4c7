// The footer's links to the terms of use, the privacy notice and the imprint
// follow the page's language: each page has its own path per language (the
// server renders them, sprechzimmer/legal.py, PATHS; a test compares the two).
//
// Loaded by its own <script> tag, apart from the page's code: it needs nothing
// from it but the `lang` attribute of <html>, which i18n.js sets whenever the
// language changes. So a page gets the footer by markup alone.

/** @typedef {import('./i18n.js').Lang} Lang */
/** @typedef {'terms' | 'privacy' | 'imprint'} LegalPage */

/** @type {Readonly<Record<Lang, Readonly<Record<LegalPage, string>>>>} */
export const LEGAL_PATHS = Object.freeze({
  de: Object.freeze({ terms: '/nutzungsbedingungen', privacy: '/datenschutz', imprint: '/impressum' }),
  en: Object.freeze({ terms: '/terms', privacy: '/privacy', imprint: '/imprint' }),
});

/**
 * The path of `page` in `lang`; German for a language we do not have.
 * @param {string} lang
 * @param {string} page
 * @returns {string | null} null for an unknown page
 */
export function legalHref(lang, page) {
  const paths = lang === 'en' ? LEGAL_PATHS.en : LEGAL_PATHS.de;
  return Object.hasOwn(paths, page) ? paths[/** @type {LegalPage} */ (page)] : null;
}

/**
 * Point every `a[data-legal]` under `root` at its page in `lang`.
 * @param {ParentNode} root
 * @param {string} lang
 */
export function updateLegalLinks(root, lang) {
  for (const link of root.querySelectorAll('a[data-legal]')) {
    const href = legalHref(lang, link.getAttribute('data-legal') ?? '');
    if (href) link.setAttribute('href', href);
  }
}

/**
 * Keep the links in step with `<html lang>` from now on.
 * @param {Document} doc
 */
export function followPageLanguage(doc) {
  const html = doc.documentElement;
  updateLegalLinks(doc, html.lang);
  new MutationObserver(() => updateLegalLinks(doc, html.lang)).observe(html, {
    attributes: true,
    attributeFilter: ['lang'],
  });
}

if (typeof document !== 'undefined') followPageLanguage(document);
