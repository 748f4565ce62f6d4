// A webhook receiver written the way the zMesh and Zenovay docs tell their
// customers to: HMAC-SHA256 of the raw body with the signing secret, hex,
// compared with crypto.timingSafeEqual(Buffer.from(signature),
// Buffer.from(hexHmac)). The function below is that check as issue #15
// quotes it (their docs were not reachable from here); it throws when the
// lengths differ, as with a `sha256=`-prefixed header.
//
//   node seed_receiver.mjs <secret> <signature header>
//
// Prints {"port": N} once listening, then one JSON line per request. Answers
// 200 when the signature verifies, 401 when not; `/moved` always answers 302
// (a Meshes-style receiver behind a redirect).
import http from 'node:http';
import crypto from 'node:crypto';

const [secret, signatureHeader] = process.argv.slice(2);

function verifySignature(rawBody, signature, secret) {
  const hexHmac = crypto.createHmac('sha256', secret).update(rawBody).digest('hex');
  return crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(hexHmac));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks);
    if (req.url === '/moved') {
      res.writeHead(302, { location: 'https://elsewhere.example/hooks' });
      res.end();
      console.log(JSON.stringify({ path: req.url, status: 302 }));
      return;
    }
    let verified = false;
    let error = null;
    try {
      verified = verifySignature(rawBody, req.headers[signatureHeader.toLowerCase()] ?? '', secret);
    } catch (e) {
      error = e.message;
    }
    const status = verified ? 200 : 401;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ verified }));
    const event = verified ? JSON.parse(rawBody.toString('utf8')).event : null;
    console.log(JSON.stringify({ path: req.url, status, verified, error, event }));
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
