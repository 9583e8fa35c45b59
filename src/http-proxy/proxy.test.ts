import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notModifiedFor, stripHopByHop } from './proxy.js';

test('stripHopByHop: RFC 9110 §7.6.1 fields and those Connection names', () => {
  const h = stripHopByHop({
    connection: 'X-Private, close',
    'x-private': 'secret',
    'keep-alive': 'timeout=5',
    'proxy-connection': 'keep-alive',
    te: 'trailers',
    trailer: 'x',
    'transfer-encoding': 'chunked',
    upgrade: 'h2c',
    'content-type': 'text/plain',
    'set-cookie': ['a=1', 'b=2'],
  });
  assert.deepEqual(h, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
  assert.deepEqual(stripHopByHop({ 'proxy-authorization': 'Basic x', a: '1' }, new Set(['proxy-authorization'])), { a: '1' });
});

test('notModifiedFor: If-None-Match (weak comparison, lists, *) before If-Modified-Since', () => {
  const res = { etag: 'W/"abc"', 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' };
  assert.equal(notModifiedFor({ 'if-none-match': '"x", "abc"' }, res), true);
  assert.equal(notModifiedFor({ 'if-none-match': '*' }, res), true);
  assert.equal(notModifiedFor({ 'if-none-match': '"x"', 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' }, res), false, 'If-None-Match wins');
  assert.equal(notModifiedFor({ 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' }, res), true);
  assert.equal(notModifiedFor({ 'if-modified-since': 'Sat, 05 Nov 1994 08:49:37 GMT' }, res), false);
  assert.equal(notModifiedFor({ 'if-modified-since': 'garbage' }, res), false);
  assert.equal(notModifiedFor({}, res), false);
  assert.equal(notModifiedFor({ 'if-none-match': '"abc"' }, {}), false);
});
