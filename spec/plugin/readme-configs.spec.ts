// Every config of the README's "Beyond MongooseIM" section is valid as printed: it parses, passes
// the plugin's schema and starts the plugin. Its JSON example passes the payload schema.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { Ajv } from 'ajv'
import { parse } from 'smol-toml'
import createEventPusherHttp from '../../lib/plugin/index.js'
import { FakeHost } from '../helpers/fake-host.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const section = readme.slice(readme.indexOf('## Beyond MongooseIM'), readme.indexOf('\n## ', readme.indexOf('## Beyond MongooseIM') + 1))
const blocks = (lang: string) => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1])

describe('README "Beyond MongooseIM"', () => {
  it('has a section with configs', () => {
    assert.ok(section.length > 1000)
    assert.ok(blocks('toml').length >= 10)
  })

  for (const [i, toml] of blocks('toml').entries()) {
    const key = toml
      .split('\n')
      .find((l) => /^\w/.test(l) && !/^(pool_name|path) /.test(l))
      ?.split(' ')[0]
    it(`config ${i + 1} (${key}) starts the plugin`, async () => {
      const doc = parse(toml) as { plugins: { mod_event_pusher_http: Record<string, unknown> } }
      const host = new FakeHost({ host: 'localhost', pools: { http_pool: { server: 'http://127.0.0.1:9' } } })
      await host.start(createEventPusherHttp, doc.plugins.mod_event_pusher_http)
      await host.stop()
    })
  }

  it('shows a JSON body that the payload schema accepts', () => {
    const schema = JSON.parse(readFileSync(new URL('../../docs/webhook-payload.schema.json', import.meta.url), 'utf8'))
    const ajv = new Ajv({ strict: true })
    ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
    const validate = ajv.compile(schema)
    const [json] = blocks('json')
    assert.ok(validate(JSON.parse(json)), JSON.stringify(validate.errors))
  })
})

describe('docs/plugin.md "Push: only_offline_recipient"', () => {
  const doc = readFileSync(new URL('../../docs/plugin.md', import.meta.url), 'utf8')
  const start = doc.indexOf('## Push: only_offline_recipient')
  const push = doc.slice(start, doc.indexOf('\n## ', start + 1))
  const block = (lang: string) => push.match(new RegExp('```' + lang + '\\n([\\s\\S]*?)```'))?.[1]

  it('its set-up starts the plugin with an offline_message handler, and its JSON body passes the payload schema', async () => {
    assert.ok(start >= 0)
    const config = parse(block('toml')!) as { http_connections: { push: { server: string } }; plugins: { mod_event_pusher_http: Record<string, unknown> } }
    assert.equal(config.plugins.mod_event_pusher_http.only_offline_recipient, true)
    const host = new FakeHost({ host: 'example.com', pools: { push: { server: config.http_connections.push.server } } })
    await host.start(createEventPusherHttp, config.plugins.mod_event_pusher_http)
    assert.deepEqual([host.subscribers, host.offlineSubscribers], [0, 1])
    await host.stop()
    const schema = JSON.parse(readFileSync(new URL('../../docs/webhook-payload.schema.json', import.meta.url), 'utf8'))
    const ajv = new Ajv({ strict: true })
    ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
    const validate = ajv.compile(schema)
    const body = JSON.parse(block('json')!) as Record<string, unknown>
    assert.ok(validate(body), JSON.stringify(validate.errors))
    assert.equal(typeof body.stanza_id, 'string')
  })
})
