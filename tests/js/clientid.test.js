import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientIdWarnings } from '../../src/sprechzimmer/static/js/clientid.js';

test('pseudonyms pass without warning', () => {
  for (const id of ['K-2041', 'k2041', 'Paar 7', 'client-0815', 'AB-12', 'AB12', 'AB', '2024-11-03', 'Gruppe B', 'KL 123456', 'x', 'MÜ-7', 'Dienstag 10 Uhr', 'K_17', '#42']) {
    assert.deepEqual(clientIdWarnings(id), [], id);
  }
});

test('e-mail addresses warn', () => {
  for (const id of ['anna@example.org', ' max.mustermann@mail.de ', 'Anna <anna@example.org>']) {
    assert.ok(clientIdWarnings(id).includes('email'), id);
    assert.ok(!clientIdWarnings(id).includes('name'), id);
  }
});

test('phone numbers warn', () => {
  for (const id of ['+49 171 2345678', '0171/2345678', '(030) 123 45 67', '030-1234567', '004917612345678']) {
    assert.deepEqual(clientIdWarnings(id), ['phone'], id);
  }
});

test('real-looking names warn', () => {
  for (const id of ['Anna Müller', 'Müller, Anna', 'Hans-Peter Schmidt', 'Ludwig van Beethoven', "Siobhán O'Brien", 'Frau Meier', 'Dr. Weber', 'Jürgen Zoë Ängström']) {
    assert.deepEqual(clientIdWarnings(id), ['name'], id);
  }
});

test('a single surname and names in lower case warn too (issue 12, point 10)', () => {
  for (const id of ['Müller', ' Schmidt ', 'anna schmidt', 'müller', "o'brien", 'MÜLLER', 'Anna M.', 'von der Leyen', 'hans-peter']) {
    assert.deepEqual(clientIdWarnings(id), ['name'], id);
  }
});

test('empty input gives no warning', () => {
  assert.deepEqual(clientIdWarnings('   '), []);
});
