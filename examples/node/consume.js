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
// below. Prints one JSON line per record. Runs until stopped, or with --exit-at-end until every
// assigned partition is read up to the end it had when the group assigned it (like kcat -e), or
// with --idle-exit N until N seconds pass without a record.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const { SchemaRegistry } = require('@kafkajs/confluent-schema-registry')
const lz4 = require('kafkajs-lz4')

const LZ4Codec = lz4.default || lz4
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec

const DOMAIN_TOPICS = /^nmc\.[a-z]+$/
const MAJORS = new Set(['1'])

function args () {
  const out = { fromBeginning: false, exitAtEnd: false, idleExit: 0 }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--from-beginning') out.fromBeginning = true
    else if (a === '--bootstrap') out.bootstrap = argv[++i]
    else if (a === '--registry') out.registry = argv[++i]
    else if (a === '--group') out.group = argv[++i]
    else if (a === '--idle-exit') out.idleExit = Number(argv[++i])
    else if (a === '--exit-at-end') out.exitAtEnd = true
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

// For --exit-at-end: each assigned partition's end offset (high watermark) when the group assigned
// it, and how far this consumer has read it. Records produced after that are left for the next
// run, so others writing all the time do not keep the consumer running.
class EndOfAssignment {
  constructor (admin, groupId, fromBeginning) {
    Object.assign(this, { admin, groupId, fromBeginning })
    this.end = new Map()
    this.position = null // of the assigned partitions: the next offset to read
    this.ready = Promise.resolve()
  }

  // On GROUP_JOIN: each partition's end, and where this consumer starts in it (the committed
  // offset, or where a group without one starts).
  async assigned (assignment) {
    const position = new Map()
    const topics = Object.keys(assignment)
    const committed = await this.admin.fetchOffsets({ groupId: this.groupId, topics })
    for (const topic of topics) {
      const offsets = await this.admin.fetchTopicOffsets(topic)
      for (const partition of assignment[topic]) {
        const key = `${topic}/${partition}`
        const { high, low } = offsets.find((o) => o.partition === partition)
        if (!this.end.has(key)) this.end.set(key, Number(high)) // a rebalance keeps the end
        const start = Number(committed.find((t) => t.topic === topic).partitions
          .find((p) => p.partition === partition).offset)
        position.set(key, start >= 0 ? start : Number(this.fromBeginning ? low : high))
      }
    }
    this.position = position
  }

  isPast (topic, partition, offset) { return offset >= this.end.get(`${topic}/${partition}`) }
  moved (topic, partition, position) { this.position.set(`${topic}/${partition}`, position) }
  reached () {
    return this.position !== null &&
      [...this.position].every(([key, at]) => at >= this.end.get(key))
  }
}

// One record: print what a consumer sees of it, decode it the first time its event_id comes.
async function handle (registry, seen, topic, partition, message) {
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

async function main () {
  const opts = args()
  const kafka = new Kafka({ clientId: 'nmc-example-node', brokers: [opts.bootstrap],
    logLevel: logLevel.ERROR })
  const registry = new SchemaRegistry({ host: opts.registry })
  const consumer = kafka.consumer({ groupId: opts.group })
  const seen = new SeenEvents()
  const ends = new EndOfAssignment(kafka.admin(), opts.group, opts.fromBeginning)
  let last = Date.now()

  await consumer.connect()
  if (opts.exitAtEnd) {
    await ends.admin.connect()
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      ends.ready = ends.assigned(payload.memberAssignment)
    })
  }
  await consumer.subscribe({ topics: [DOMAIN_TOPICS], fromBeginning: opts.fromBeginning })
  await consumer.run({
    autoCommit: true, // what resolveOffset marks is committed after each batch: at least once
    eachBatchAutoResolve: false, // a record left for the next run must not be committed
    partitionsConsumedConcurrently: 1,
    eachBatch: async ({ batch: { topic, partition, messages }, resolveOffset, heartbeat, pause,
      isRunning, isStale }) => {
      await ends.ready
      for (const message of messages) {
        if (!isRunning() || isStale()) break // stopping, or a rebalance moved the partition
        const offset = Number(message.offset)
        if (opts.exitAtEnd && ends.isPast(topic, partition, offset)) {
          ends.moved(topic, partition, offset)
          pause() // this partition is done: fetch no more of it
          break // produced after the assignment: left for the next run
        }
        last = Date.now()
        await handle(registry, seen, topic, partition, message)
        resolveOffset(message.offset) // after the effect
        if (opts.exitAtEnd) ends.moved(topic, partition, offset + 1)
        await heartbeat()
      }
    }
  })
  if (opts.idleExit > 0 || opts.exitAtEnd) {
    const timer = setInterval(async () => {
      const idle = opts.idleExit > 0 && Date.now() - last > opts.idleExit * 1000
      if (idle || (opts.exitAtEnd && ends.reached())) {
        clearInterval(timer)
        await consumer.disconnect() // commits what was resolved
        await ends.admin.disconnect()
        process.exit(0)
      }
    }, 250)
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
