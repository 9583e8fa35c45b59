import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { BlobStore } from '../store/store.js';
import { BadCharset, matches, parseSearch, searchNeeds } from './search.js';
import type { SearchEnv, SearchSubject } from './search.js';
import { Args, ParseError } from './wire/parser.js';

const parse = (s: string) => parseSearch(new Args(s));

const env: SearchEnv = { blobs: null as unknown as BlobStore, maxSeq: 10, maxUid: 100, saved: [42] };
const msg = (over: Partial<SearchSubject> = {}): SearchSubject => ({
  seq: 3,
  uid: 42,
  flags: ['\\Seen', '$Label'],
  size: 500,
  internalDate: new Date(Date.UTC(2026, 10, 23, 15, 0, 0)),
  modseq: 7,
  stored: null,
  ...over,
});
const hit = (q: string, m = msg()) => matches(parse(q).key, m, env);

describe('IMAP SEARCH', () => {
  it('parses every RFC 3501 key', () => {
    const keys = [
      'ALL', 'ANSWERED', 'BCC x', 'BEFORE 1-Jan-2020', 'BODY x', 'CC x', 'DELETED', 'DRAFT', 'FLAGGED', 'FROM "a b"', 'HEADER X-Y z',
      'KEYWORD $x', 'LARGER 5', 'NEW', 'NOT SEEN', 'OLD', 'ON 1-Jan-2020', 'OR SEEN DELETED', 'RECENT', 'SEEN', 'SENTBEFORE 1-Jan-2020',
      'SENTON 1-Jan-2020', 'SENTSINCE 1-Jan-2020', 'SINCE "1-Jan-2020"', 'SMALLER 5', 'SUBJECT x', 'TEXT x', 'TO x', 'UID 1:*', 'UNANSWERED',
      'UNDELETED', 'UNDRAFT', 'UNFLAGGED', 'UNKEYWORD $x', 'UNSEEN', '1:3,5', '$', '(SEEN FLAGGED)', 'MODSEQ 5', 'MODSEQ "/flags/\\\\seen" all 5',
    ];
    for (const k of keys) assert.doesNotThrow(() => parse(k), k);
    assert.deepEqual(parse('RETURN (MIN COUNT) CHARSET UTF-8 ALL').returnOpts, ['MIN', 'COUNT']);
    assert.deepEqual(parse('RETURN () ALL').returnOpts, ['ALL']);
  });

  it('refuses bad programs', () => {
    for (const q of ['FOO', 'BEFORE 32-Jan-2020', 'OR SEEN', '()', `${'NOT '.repeat(100)}ALL`, 'LARGER x', 'RETURN (BOGUS) ALL']) {
      assert.throws(() => parse(q), ParseError, q);
    }
    assert.throws(() => parse('CHARSET KOI8-R ALL'), BadCharset);
  });

  it('evaluates flags, sizes, dates, sets, OR/NOT', async () => {
    assert.equal(await hit('SEEN'), true);
    assert.equal(await hit('UNSEEN'), false);
    assert.equal(await hit('KEYWORD $label'), true);
    assert.equal(await hit('LARGER 499 SMALLER 501'), true);
    assert.equal(await hit('LARGER 500'), false);
    assert.equal(await hit('ON 23-Nov-2026'), true);
    assert.equal(await hit('BEFORE 23-Nov-2026'), false);
    assert.equal(await hit('SINCE 23-Nov-2026'), true);
    assert.equal(await hit('3'), true);
    assert.equal(await hit('4:*'), false);
    assert.equal(await hit('UID 40:50'), true);
    assert.equal(await hit('UID *'), false);
    assert.equal(await hit('$'), true);
    assert.equal(await hit('OR DELETED NOT FLAGGED'), true);
    assert.equal(await hit('NOT (SEEN UID 42)'), false);
    assert.equal(await hit('MODSEQ 8'), false);
    assert.equal(searchNeeds(parse('SEEN UID 1').key), 'summary');
    assert.equal(searchNeeds(parse('OR SEEN SUBJECT x').key), 'stored');
  });
});
