// The cold-start floor: a plain node:http server that answers its first request. Nothing is cheaper in Node.
import { createServer } from 'node:http';

createServer((_req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
