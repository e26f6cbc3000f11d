// A reference for the cold start: the framework alone. A bare Hono app on @hono/node-server, bundled and minified
// like the function, answering its first request. What the function's cold start costs beyond this is ours.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.get('/', (c) => c.text('ok'));
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
