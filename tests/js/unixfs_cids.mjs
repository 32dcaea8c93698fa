// Reference CIDs from the JS UnixFS importer (ipfs-unixfs-importer), used by
// tests/core to cross-check ipfs_kit_py.core against an independent
// implementation configured the way kubo's `ipfs add` is.
//
// stdin: {"cases": [{"id": "...", "options": {...}, "file": CONTENT}
//                 | {"id": "...", "options": {...}, "dir": [ENTRY, ...]}]}
//   CONTENT: {"b64": "..."} or {"gen": {"seed": S, "size": N}}
//   ENTRY:   {"path": "a/b.txt", "file": CONTENT}, {"path": "a/ln", "symlink": "target"}
//            or {"path": "a/empty"} (directory)
//   options: {cidVersion: 0|1, rawLeaves: bool, chunkSize: N, layout: "balanced"|"trickle"}
// stdout: {"results": {"<id>": {"cid": "...", "entries": {"<path>": "<cid>", ...}}}}
//
// gen bytes: byte i = mix32(i + seed * 0x9E3779B1) & 0xff (see genBytes);
// tests/core/core_testlib.py implements the same generator.

import { MemoryBlockstore } from 'blockstore-core/memory'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced, trickle } from 'ipfs-unixfs-importer/layout'

const PIECE = 1 << 20

function * genBytes (seed, size) {
  const base = Math.imul(seed, 0x9E3779B1) >>> 0
  for (let off = 0; off < size; off += PIECE) {
    const n = Math.min(PIECE, size - off)
    const out = new Uint8Array(n)
    for (let j = 0; j < n; j++) {
      let x = (off + j + base) >>> 0
      x ^= x >>> 15
      x = Math.imul(x, 0x2C1B3C6D) >>> 0
      x ^= x >>> 12
      out[j] = x & 0xff
    }
    yield out
  }
}

function content (spec) {
  if (spec.b64 !== undefined) {
    return [Uint8Array.from(Buffer.from(spec.b64, 'base64'))]
  }
  if (spec.gen !== undefined) {
    return genBytes(spec.gen.seed, spec.gen.size)
  }
  throw new Error(`bad content spec ${JSON.stringify(spec)}`)
}

// kubo's `ipfs add` settings, expressed as importer options.
function importerOptions (opts) {
  const cidVersion = opts.cidVersion ?? 0
  const rawLeaves = opts.rawLeaves ?? (cidVersion === 1)
  const isTrickle = (opts.layout ?? 'balanced') === 'trickle'
  return {
    cidVersion,
    rawLeaves,
    // kubo: balanced leaves are UnixFS File nodes and a one-chunk file is
    // its leaf; trickle leaves are UnixFS Raw nodes under a root node.
    leafType: isTrickle ? 'raw' : 'file',
    reduceSingleLeafToSelf: !isTrickle,
    chunker: fixedSize({ chunkSize: opts.chunkSize ?? 262144 }),
    layout: isTrickle
      ? trickle({ maxChildrenPerNode: 174, layerRepeat: 4 })
      : balanced({ maxChildrenPerNode: 174 }),
    shardSplitStrategy: 'links-bytes',
    shardSplitThresholdBytes: 262144,
    fieldOrder: 'links-first'
  }
}

async function runCase (c) {
  const blockstore = new MemoryBlockstore()
  const options = importerOptions(c.options ?? {})
  if (c.file !== undefined) {
    let last
    for await (const entry of importer([{ content: content(c.file) }], blockstore, options)) {
      last = entry
    }
    return { cid: last.cid.toString(), entries: {} }
  }
  const candidates = c.dir.map((e) => {
    if (e.file !== undefined) return { path: e.path, content: content(e.file) }
    if (e.symlink !== undefined) return { path: e.path, link: e.symlink }
    return { path: e.path }
  })
  const entries = {}
  let root
  for await (const entry of importer(candidates, blockstore, { ...options, wrapWithDirectory: true })) {
    entries[entry.path ?? ''] = entry.cid.toString()
    if ((entry.path ?? '') === '') root = entry.cid.toString()
  }
  return { cid: root, entries }
}

async function main () {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const results = {}
  for (const c of job.cases) {
    results[c.id] = await runCase(c)
  }
  process.stdout.write(JSON.stringify({ results }, null, 1) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
