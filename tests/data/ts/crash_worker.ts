// A @polos/sdk worker for tests/test_polos_ts_sdk.py: steps that leave marks in
// a folder (TS_TEST_DIR), so the test can tell which ran, and how often.
//
// `ts_crash`: step "first" runs at once; step "second" blocks until the file
// `go` exists, so the test can SIGKILL the worker in the middle of it.
// `ts_waiter`: records a step, then waits for an event (the run is parked on
// the server, no worker holds it), then records another step.
// `ts_calls_python`: awaits a child workflow served by a Python worker of ours.
// `ts_child`: a child for a Python workflow of ours to await.
// `ts_agent`: an agent (OpenAI model, pointed at a fake server by OPENAI_BASE_URL)
// whose tool `ts_slow_lookup` marks "lookup" and blocks until `go` exists.
// `ts_tick`: schedulable; with TS_SCHEDULE set, the worker schedules it at start
// through the SDK's client (polos.schedules.create) and each run marks "tick".
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { openai } from '@ai-sdk/openai';
import { Polos, defineAgent, defineTool, defineWorkflow, maxSteps } from '@polos/sdk';
import { z } from 'zod';

const dir = process.env['TS_TEST_DIR'] ?? '.';
const mark = (name: string): void => appendFileSync(join(dir, 'marks.txt'), `${name}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

defineWorkflow<{ n: number }, unknown, { doubled: number; plusOne: number }>(
  { id: 'ts_crash' },
  async (ctx, payload) => {
    const doubled = await ctx.step.run('first', () => {
      mark('first');
      return payload.n * 2;
    });
    const plusOne = await ctx.step.run('second', async () => {
      mark('second');
      while (!existsSync(join(dir, 'go'))) await sleep(50);
      return doubled + 1;
    });
    return { doubled, plusOne };
  },
);

defineWorkflow<{ topic: string }, unknown, { before: string; event: unknown; after: string }>(
  { id: 'ts_waiter' },
  async (ctx, payload) => {
    const before = await ctx.step.run('before', () => {
      mark('before');
      return 'ready';
    });
    const event = await ctx.step.waitForEvent('wait', { topic: payload.topic, timeout: 120 });
    const after = await ctx.step.run('after', () => {
      mark('after');
      return 'done';
    });
    return { before, event, after };
  },
);

defineWorkflow<{ n: number }, unknown, { fromPython: unknown }>(
  { id: 'ts_calls_python' },
  async (ctx, payload) => {
    const fromPython = await ctx.step.invokeAndWait('python', 'ts_py_child', { n: payload.n });
    mark('ts_calls_python');
    return { fromPython };
  },
);

defineWorkflow<{ n: number }, unknown, { ts: number }>({ id: 'ts_child' }, async (ctx, payload) => {
  const ts = await ctx.step.run('add', () => payload.n + 100);
  return { ts };
});

defineWorkflow<Record<string, unknown>, unknown, Record<string, unknown>>(
  { id: 'ts_tick', schedule: true },
  async (ctx, payload) => {
    await ctx.step.run('tick', () => mark('tick'));
    return payload; // what the server handed a scheduled run
  },
);

const slowLookup = defineTool(
  {
    id: 'ts_slow_lookup',
    description: 'Look up the value of a key',
    inputSchema: z.object({ key: z.string() }),
  },
  async (_ctx, input: { key: string }) => {
    mark('lookup');
    while (!existsSync(join(dir, 'go'))) await sleep(50);
    return { value: `value-of-${input.key}` };
  },
);

defineAgent({
  id: 'ts_agent',
  model: openai('gpt-4o-mini'),
  systemPrompt: 'Look values up with the tool.',
  tools: [slowLookup],
  stopConditions: [maxSteps({ count: 5 })],
});

const polos = new Polos({ deploymentId: process.env['POLOS_DEPLOYMENT_ID'] ?? 'ts-tests' });
await polos.start();
const cron = process.env['TS_SCHEDULE'];
if (cron) console.log(`scheduled: ${await polos.schedules.create('ts_tick', cron, 'UTC', 'ts')}`);
await polos.serve();
