// Node.js test function in CommonJS: each export is one handler shape or failure mode.

const { randomUUID } = require('node:crypto');

// Identifies this environment, because a sandbox may give every environment the same pid.
const environment = randomUUID();
let invocations = 0;

exports.handler = async (event) => {
  invocations += 1;
  return { event, invocations, environment };
};

exports.callback = (event, context, callback) => {
  callback(null, { event, style: 'callback' });
};

exports.callbackError = (event, context, callback) => {
  callback(new Error('callback failed'));
};

exports.throws = async () => {
  throw new TypeError('thrown message');
};

exports.rejects = () => Promise.reject(new RangeError('rejected message'));

exports.throwsString = async () => {
  throw 'plain string';
};

exports.log = async (event) => {
  console.log(event.message);
  console.error(event.errorMessage);
  console.warn(event.warnMessage);
  console.info(event.infoMessage);
  return 'logged';
};

exports.environment = async () => ({ ...process.env });

exports.context = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  remainingTimeInMillis: context.getRemainingTimeInMillis(),
  clientContext: context.clientContext ?? null,
});

exports.undefinedResult = async () => undefined;

exports.exit = async (event) => {
  process.exit(event.status);
};
