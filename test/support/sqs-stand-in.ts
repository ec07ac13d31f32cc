import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One message a function sent, as SQS would hand it to the queue's consumer. */
export interface QueuedMessage {
  messageId: string;
  body: string;
}

/**
 * A stand-in for Amazon SQS on loopback that takes `SendMessage` in SQS's JSON protocol (AWS JSON 1.0, the
 * `X-Amz-Target: AmazonSQS.SendMessage` header) and keeps the messages for the test to hand to a consumer. It
 * answers `MD5OfMessageBody` as SQS does, so the client's checksum validation runs as it does on AWS. Any other
 * operation answers 400.
 */
export interface SqsStandIn {
  /** A queue URL on the stand-in (the SQS client sends to the host of the queue URL). */
  queueUrl: string;
  /** Takes every message sent so far, oldest first, leaving the queue empty. */
  drain(): QueuedMessage[];
  close(): Promise<void>;
}

export async function startSqsStandIn(): Promise<SqsStandIn> {
  const queue: QueuedMessage[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(JSON.stringify(body));
      };
      if (request.headers['x-amz-target'] !== 'AmazonSQS.SendMessage')
        return answer(400, { __type: 'com.amazonaws.sqs#InvalidAction', message: 'not in the stand-in' });
      const { MessageBody } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { MessageBody: string };
      const messageId = randomUUID();
      queue.push({ messageId, body: MessageBody });
      answer(200, {
        MessageId: messageId,
        MD5OfMessageBody: createHash('md5').update(MessageBody, 'utf8').digest('hex'),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    queueUrl: `http://127.0.0.1:${port}/000000000000/mail`,
    drain: () => queue.splice(0),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
