#!/usr/bin/python3
# Regenerates gvariant-vectors.txt from the reference serializer in
# /work/shared/reference/ostree-py/gvariant.py (which was checked byte-for-byte against GLib 2.74).
# Each line: "<type>\t<hex>" for random values, or "sha256\t<type>\t<a-len>\t<b-len>\t<len>\t<sha256>" for the
# big framing-boundary cases ('x'*a, 'y'*b in (ayay) / aay).
import hashlib, random, sys
sys.path.insert(0, '/work/shared/reference/ostree-py')
from gvariant import serialize, _split_types

TYPES = ['(a{sv}aya(say)sstayay)', '(a(say)a(sayay))', '(uuua(ayay))', '(tuuuusa(ayay))', '(uuuusa(ayay))',
         '(a(s(taya{sv}))a{sv})', 'a{sv}', '(a(uuu)aa(ayay)ayay)', '(uayttay)', '(yaytt)', 'aay', 'as',
         '(ybnqiuxtd)', '(msmu)', '(mayms)', 'a(ynq)', '(s(ii)as)']
VARIANT_TYPES = ['s', 'u', 't', 'b', 'y', 'ay', 'as', '(ss)', 'a{sv}', 'aay']
rnd = random.Random(20261126)

def rstr():
    return ''.join(rnd.choice('abcxyz.-_/é') for _ in range(rnd.choice([0, 1, 2, 5, 20, 70])))

def rval(t, depth=0):
    c = t[0]
    if c == 'y': return rnd.randrange(256)
    if c == 'b': return rnd.random() < .5
    if c == 'n': return rnd.randrange(-32768, 32768)
    if c == 'q': return rnd.randrange(65536)
    if c == 'i': return rnd.randrange(-2**31, 2**31)
    if c == 'u': return rnd.randrange(2**32)
    if c == 'x': return rnd.randrange(-2**63, 2**63)
    if c == 't': return rnd.randrange(2**64)
    if c == 'd': return rnd.choice([0.0, 1.5, -2.25, 1e300])
    if c == 's': return rstr()
    if c == 'v':
        vt = rnd.choice(VARIANT_TYPES if depth < 2 else ['s', 'u'])
        return (vt, rval(vt, depth + 1))
    if c == 'm':
        return None if rnd.random() < .3 else rval(t[1:], depth + 1)
    if c == 'a':
        et = t[1:]
        n = rnd.choice([0, 1, 2, 3, 6]) if depth < 2 else rnd.choice([0, 1, 2])
        if et == 'y': return bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 32, 100, 260])))
        if et.startswith('{'):
            k, v = _split_types(et[1:-1])
            return [(rval(k, depth + 1), rval(v, depth + 1)) for _ in range(n)]
        return [rval(et, depth + 1) for _ in range(n)]
    if c == '(':
        return tuple(rval(m, depth + 1) for m in _split_types(t[1:-1]))
    raise ValueError(t)

out = []
for t in TYPES:
    for _ in range(15):
        out.append(f'{t}\t{serialize(t, rval(t)).hex()}')
for total in list(range(250, 262)) + list(range(65530, 65542)):
    for t in ['(ayay)', 'aay']:
        a = b'x' * (total // 2); b = b'y' * (total - total // 2)
        data = serialize(t, (a, b) if t == '(ayay)' else [a, b])
        out.append(f'sha256\t{t}\t{len(a)}\t{len(b)}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}')
open(sys.argv[1] if len(sys.argv) > 1 else 'gvariant-vectors.txt', 'w').write('\n'.join(out) + '\n')
