// Does a client ID look like it names a person? The service stores client IDs
// as entered and links them to sessions, so the therapist should use a
// pseudonym. These checks only warn (a false alarm must never block), so
// they lean towards warning: an ID of letters only, one word or a few, warns
// ("Müller", "anna schmidt", and also "Dienstag", which is the price). Pure module.

/** @typedef {'email' | 'phone' | 'name'} ClientIdWarning */

const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]{2,}/;
// A word of letters, possibly joined by an apostrophe, hyphen or period
// ("O'Brien", "Müller-Lüdenscheidt", "St.Clair"), in any case: real names are
// often typed in lower case ("anna schmidt"). A pseudonym almost always has a
// digit or another sign in it ("K-2041", "AB12"), which no name has.
const LETTER_WORD = /^\p{L}+(?:['’.-]\p{L}+)*\.?$/u;
// One to three capitals alone ("AB", "KLM") read as initials or a code, not a name.
const INITIALS = /^\p{Lu}{1,3}$/u;
const DATE = /^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}\.\d{1,2}\.\d{2,4})$/;
const PARTICLES = new Set(['von', 'van', 'de', 'der', 'den', 'zu', 'da', 'di', 'del', 'la', 'le', 'vom', 'zum', 'ten', 'ter']);
const TITLES = /^(herr|frau|hr|fr|dr|prof|mr|mrs|ms|miss)\.?$/i;

/**
 * @param {string} id
 * @returns {ClientIdWarning[]}
 */
export function clientIdWarnings(id) {
  const text = id.trim();
  /** @type {ClientIdWarning[]} */
  const warnings = [];
  if (!text) return warnings;
  if (EMAIL.test(text)) warnings.push('email');
  if (looksLikePhone(text)) warnings.push('phone');
  if (!warnings.includes('email') && looksLikeName(text)) warnings.push('name');
  return warnings;
}

/** @param {string} text */
function looksLikePhone(text) {
  // A run of digits with the usual separators, 7 digits or more in total
  // (shorter numbers are typical pseudonyms like "K-2041" or "0815").
  for (const m of text.matchAll(/\+?\(?\d[\d\s()./-]{5,}\d/g)) {
    if (DATE.test(m[0].trim())) continue; // "2024-11-03" is a date, not a number
    const digits = m[0].replace(/\D/g, '');
    if (digits.length >= 7 && digits.length <= 15) return true;
  }
  return false;
}

/** @param {string} text */
function looksLikeName(text) {
  // "Müller, Anna" and "Anna Müller" alike.
  const words = text.replace(/,/g, ' ').split(/\s+/).filter(Boolean);
  if (words.some((w) => TITLES.test(w))) return true;
  if (!words.every((w) => LETTER_WORD.test(w))) return false;
  // A one-letter word is a label ("Gruppe B", "Paar A"), not part of a name.
  if (words.some((w) => [...w].length === 1)) return false;
  if (words.length === 1 && INITIALS.test(words[0])) return false;
  const significant = words.filter((w) => !PARTICLES.has(w.toLowerCase()));
  // A single surname ("Müller") warns too; a whole sentence does not.
  return significant.length >= 1 && significant.length <= 5;
}
