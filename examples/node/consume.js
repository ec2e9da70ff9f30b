// A stock Node consumer of the NeverMissCall topics, as another team would write it:
// kafkajs + @kafkajs/confluent-schema-registry, nothing from the platform's code.
//
//   node consume.js --bootstrap 127.0.0.1:9092 \
//     --registry http://127.0.0.1:8081/apis/ccompat/v7 --group my-team --from-beginning
//
// Follows docs/consumers/README.md: subscribe with ^nmc\.[a-z]+$, decode through the registry,
// filter on the schema_version major before decoding, dedupe by event_id, per-key order (one
// partition at a time), commit after the effect. Producers compress with LZ4, which stock
// kafkajs cannot read ("LZ4 compression not implemented"): the kafkajs-lz4 codec is registered
// below. Prints one JSON line per record.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const { SchemaRegistry } = require('@kafkajs/confluent-schema-registry')
const lz4 = require('kafkajs-lz4')

const LZ4Codec = lz4.default || lz4
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec

const DOMAIN_TOPICS = /^nmc\.[a-z]+$/
const MAJORS = new Set(['1'])

function args () {
  const out = { fromBeginning: false, idleExit: 0 }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--from-beginning') out.fromBeginning = true
    else if (a === '--bootstrap') out.bootstrap = argv[++i]
    else if (a === '--registry') out.registry = argv[++i]
    else if (a === '--group') out.group = argv[++i]
    else if (a === '--idle-exit') out.idleExit = Number(argv[++i])
    else throw new Error(`unknown argument ${a}`)
  }
  if (!out.bootstrap || !out.registry || !out.group) {
    throw new Error('--bootstrap, --registry and --group are required')
  }
  return out
}

// Bounded memory of processed event ids; a real consumer keeps them with its effects.
class SeenEvents {
  constructor (capacity = 100000) { this.ids = new Set(); this.capacity = capacity }
  firstTime (id) {
    if (this.ids.has(id)) return false
    this.ids.add(id)
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value)
    return true
  }
}

async function main () {
  const opts = args()
  const kafka = new Kafka({ clientId: 'nmc-example-node', brokers: [opts.bootstrap],
    logLevel: logLevel.ERROR })
  const registry = new SchemaRegistry({ host: opts.registry })
  const consumer = kafka.consumer({ groupId: opts.group })
  const seen = new SeenEvents()
  let last = Date.now()

  await consumer.connect()
  await consumer.subscribe({ topics: [DOMAIN_TOPICS], fromBeginning: opts.fromBeginning })
  await consumer.run({
    autoCommit: true, // offsets are committed after eachMessage resolves: at least once
    partitionsConsumedConcurrently: 1,
    eachMessage: async ({ topic, partition, message }) => {
      last = Date.now()
      const headers = Object.fromEntries(
        Object.entries(message.headers || {}).map(([k, v]) => [k, v && v.toString()]))
      const out = { topic, partition, offset: Number(message.offset),
        key: message.key ? message.key.toString() : null,
        event_id: headers.event_id, event_name: headers.event_name }
      if (!MAJORS.has(String(headers.schema_version || '').split('.')[0])) {
        out.skipped = 'unknown major'
      } else if (seen.firstTime(headers.event_id)) {
        try {
          const event = await registry.decode(message.value)
          out.payload_fields = Object.keys(event.payload).sort()
        } catch (err) {
          // never block the partition: a real consumer dead-letters it (docs/consumers §11)
          out.error = String(err.message || err).split('\n')[0]
        }
      } else {
        out.duplicate = true
      }
      process.stdout.write(JSON.stringify(out) + '\n')
    }
  })
  if (opts.idleExit > 0) {
    const timer = setInterval(async () => {
      if (Date.now() - last > opts.idleExit * 1000) {
        clearInterval(timer)
        await consumer.disconnect()
        process.exit(0)
      }
    }, 250)
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
