// Drives the mParticle Node SDK (npm `mparticle`) against a Fermion server for tests/compat/test_node_sdk.py.
// Usage: node node_sdk.js BASE_URL API_KEY API_SECRET PREFIX — prints {"single": status, "bulk": status}.
'use strict';

const mParticle = require('mparticle');

const [baseUrl, apiKey, apiSecret, prefix] = process.argv.slice(2);
const api = new mParticle.EventsApi(new mParticle.Configuration(apiKey, apiSecret));
api.apiClient.basePath = `${baseUrl}/v2`; // the Node SDK has no host option

function batchFor(customerId, eventName) {
  const batch = new mParticle.Batch(mParticle.Batch.Environment.development);
  batch.user_identities = new mParticle.UserIdentities();
  batch.user_identities.customerid = customerId;
  batch.user_identities.email = `${customerId}@example.com`;
  batch.user_attributes = { plan: 'pro', visits: 3 };

  const appEvent = new mParticle.AppEvent(mParticle.AppEvent.CustomEventType.navigation, eventName);
  appEvent.custom_attributes = { count: 2, label: 'x' }; // numbers, as Node callers send them
  appEvent.custom_flags = { arrays: ['a', 'b'] };
  batch.addEvent(appEvent);

  const screen = new mParticle.ScreenViewEvent();
  screen.screen_name = 'Home';
  batch.addEvent(screen);

  const product = new mParticle.Product();
  product.name = 'Mug';
  product.id = 'SKU-1';
  product.price = 20;
  const action = new mParticle.ProductAction('purchase');
  action.products = [product];
  action.total_amount = 20;
  action.transaction_id = `${customerId}-order`;
  const commerce = new mParticle.CommerceEvent();
  commerce.product_action = action;
  batch.addEvent(commerce);
  return batch;
}

function call(method, body) {
  return new Promise((resolve, reject) => {
    api[method](body, (error, _data, response) => {
      if (error) {
        reject(new Error(`${method}: ${error.status} ${response && response.text}`));
      } else {
        resolve(response.status);
      }
    });
  });
}

(async () => {
  const single = await call('uploadEvents', batchFor(`${prefix}-single`, 'Single Upload'));
  const bulk = await call('bulkUploadEvents', [
    batchFor(`${prefix}-bulk-1`, 'Bulk Upload'),
    batchFor(`${prefix}-bulk-2`, 'Bulk Upload'),
  ]);
  process.stdout.write(JSON.stringify({ single, bulk }) + '\n');
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
