import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseFetchAtt, parseFetchItems, setsSeen } from './fetch.js';
import type { SectionItem } from './fetch.js';
import { Args, ParseError } from './wire/parser.js';

describe('FETCH items', () => {
  it('parses sections, partials and labels', () => {
    const h = parseFetchAtt('BODY.PEEK[1.2.HEADER.FIELDS.NOT (x-a Received)]<10.20>') as SectionItem;
    assert.deepEqual([h.peek, h.path, h.spec, h.fields, h.partial], [true, [1, 2], 'HEADER.FIELDS.NOT', ['x-a', 'Received'], { start: 10, length: 20 }]);
    assert.equal(h.label, 'BODY[1.2.HEADER.FIELDS.NOT (X-A RECEIVED)]<10>');
    assert.equal((parseFetchAtt('body[]') as SectionItem).label, 'BODY[]');
    assert.equal((parseFetchAtt('BINARY.PEEK[2]') as SectionItem).label, 'BINARY[2]');
    assert.equal((parseFetchAtt('RFC822.HEADER') as SectionItem).peek, true);
    assert.equal((parseFetchAtt('BODY[TEXT]') as SectionItem).spec, 'TEXT');
    for (const bad of ['BODY[MIME]', 'BODY[0]', 'BODY[1.]', 'BINARY[HEADER]', 'BODY[HEADER.FIELDS]', 'BODY[HEADER.FIELDS ()]', 'FOO', 'BODY[1]<x>']) {
      assert.throws(() => parseFetchAtt(bad), ParseError, bad);
    }
  });

  it('expands macros, reads modifiers and knows which items set \\Seen', () => {
    const r = parseFetchItems(new Args('ALL (CHANGEDSINCE 12)'));
    assert.deepEqual(r.items.map((i) => (i.kind === 'simple' ? i.name : i.label)), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
    assert.equal(r.changedSince, 12);
    assert.equal(setsSeen(parseFetchItems(new Args('(UID BODY.PEEK[])')).items), false);
    assert.equal(setsSeen(parseFetchItems(new Args('RFC822')).items), true);
    assert.throws(() => parseFetchItems(new Args('(UID')), ParseError);
    assert.throws(() => parseFetchItems(new Args('()')), ParseError);
  });
});
