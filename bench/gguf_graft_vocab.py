#!/usr/bin/env python3
"""gguf_graft_vocab.py MODEL.gguf VOCAB.gguf OUT.gguf - MODEL's metadata and
tensors plus VOCAB's tokenizer.* keys (a vocab-only GGUF), so that tools
which tokenize text (llama-perplexity) can run a synthetic model (written
by pj-fixture, with VOCAB's vocabulary size).  Metadata entries are copied
as raw bytes; tensor infos and data unchanged (offsets are relative to the
data section).  Used by bench/check_bench.sh."""
import struct, sys, shutil

SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

def rd(f, fmt):
    return struct.unpack('<' + fmt, f.read(struct.calcsize('<' + fmt)))

def skip_val(f, t):
    if t == 8:
        n, = rd(f, 'Q'); f.seek(n, 1)
    elif t == 9:
        at, n = rd(f, 'IQ')
        if at in SIZES:
            f.seek(SIZES[at] * n, 1)
        else:
            for _ in range(n):
                skip_val(f, at)
    else:
        f.seek(SIZES[t], 1)

def parse(path):
    f = open(path, 'rb')
    magic, ver, nt, nkv = rd(f, '4sIQQ')
    assert magic == b'GGUF', path
    kvs = []
    for _ in range(nkv):
        start = f.tell()
        n, = rd(f, 'Q'); key = f.read(n).decode()
        t, = rd(f, 'I'); skip_val(f, t)
        end = f.tell(); f.seek(start)
        kvs.append((key, f.read(end - start)))
    tstart = f.tell()
    for _ in range(nt):
        n, = rd(f, 'Q'); f.seek(n, 1)
        nd, = rd(f, 'I'); f.seek(8 * nd + 4 + 8, 1)
    tinfo_end = f.tell()
    f.seek(tstart); tinfo = f.read(tinfo_end - tstart)
    return f, ver, nt, kvs, tinfo, tinfo_end

model, vocab, out = sys.argv[1:4]
mf, ver, nt, mkv, tinfo, tend = parse(model)
vf, _, _, vkv, _, _ = parse(vocab)
align = 32
kvs = [kv for kv in mkv if not kv[0].startswith('tokenizer.')] + [kv for kv in vkv if kv[0].startswith('tokenizer.')]
if not any(k == 'tokenizer.ggml.add_bos_token' for k, _ in kvs):
    # pin the BOS rule: both tools then read the same one (none)
    key = b'tokenizer.ggml.add_bos_token'
    kvs.append((key.decode(), struct.pack('<Q', len(key)) + key + struct.pack('<IB', 7, 0)))
o = open(out, 'wb')
o.write(struct.pack('<4sIQQ', b'GGUF', ver, nt, len(kvs)))
for _, raw in kvs:
    o.write(raw)
o.write(tinfo)
o.write(b'\0' * (-o.tell() % align))
mf.seek(tend + (-tend % align))
shutil.copyfileobj(mf, o, 1 << 24)
o.close()
print(out, len(kvs), 'keys,', nt, 'tensors')
