// The IAM login page in a real headless Chromium (playwright-core driving
// /usr/bin/chromium): password login to a code that is exchanged, the
// accessible error of a wrong password, branding, a few accessibility facts,
// and passkeys through Chromium's virtual authenticator (CDP WebAuthn
// domain): registration, passwordless login, passkey as second factor and
// enrolment under a required MFA policy.
//
// IAM_URL is the issuer (http://localhost:<port>: WebAuthn refuses IP
// origins); IAM_DIRECT the same server by IP for node's own requests;
// CHROMIUM the browser binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const IAM = process.env.IAM_URL;
const DIRECT = process.env.IAM_DIRECT || IAM;
const REDIRECT = 'http://127.0.0.1:9999/cb';
assert.ok(IAM, 'IAM_URL is required');

let context, page, cdp, userDataDir;

before(async () => {
  userDataDir = mkdtempSync(join(tmpdir(), 'iam-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // The client's redirect URI: answered here, nothing listens there.
  await context.route(REDIRECT + '**', (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'callback' }));
  page = context.pages()[0] || await context.newPage();
  cdp = await context.newCDPSession(page);
});

after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authorizeURL(clientId, challenge) {
  const q = new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, response_type: 'code',
    scope: 'openid profile email', state: 'st-' + clientId, code_challenge: challenge, code_challenge_method: 'S256' });
  return `${IAM}/v1/iam/oauth/authorize?${q}`;
}

// exchange redeems the code the browser landed with and returns the
// access token's claims.
async function exchange(landed, clientId, verifier) {
  const u = new URL(landed);
  assert.equal(u.origin + u.pathname, REDIRECT);
  assert.equal(u.searchParams.get('state'), 'st-' + clientId);
  const code = u.searchParams.get('code');
  assert.ok(code, `no code in ${landed}`);
  const res = await fetch(`${DIRECT}/v1/iam/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  const tok = await res.json();
  assert.equal(res.status, 200, JSON.stringify(tok));
  return JSON.parse(Buffer.from(tok.access_token.split('.')[1], 'base64url').toString());
}

async function submitPassword(username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  const posted = page.waitForResponse((r) => r.url().includes('/v1/iam/oauth/authorize') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  return posted;
}

async function landed() {
  await page.waitForURL((u) => u.href.startsWith(REDIRECT), { timeout: 15000 });
  return page.url();
}

test('login page: branding and accessibility', async () => {
  const { challenge } = pkce();
  const res = await page.goto(authorizeURL('spa', challenge));
  assert.equal(res.status(), 200);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.match(await page.title(), /Acme Browser Co/);
  // The org's display name is visible, in its colour, and the card carries it.
  const org = page.getByText('Acme Browser Co', { exact: true });
  assert.ok(await org.isVisible(), 'org display name is not visible');
  assert.equal(await org.evaluate((e) => getComputedStyle(e).color), 'rgb(170, 51, 0)');
  assert.equal(await page.locator('main').evaluate((e) => getComputedStyle(e).borderTopColor), 'rgb(170, 51, 0)');
  assert.ok(await page.getByRole('heading', { level: 1, name: 'Sign in' }).isVisible());
  assert.ok(await page.getByText('to continue to Acme Console').isVisible());
  // Every input has a label; the visible ones are reachable by it.
  const unlabeled = await page.$$eval('input:not([type=hidden])', (els) =>
    els.filter((e) => !(e.labels && e.labels.length)).map((e) => e.name));
  assert.deepEqual(unlabeled, []);
  assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');
  assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
  // Focus order: username (autofocused) → password → Sign in → passkey.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'username');
  const order = [];
  for (let i = 0; i < 3; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim()));
  }
  assert.deepEqual(order, ['password', 'Sign in', 'passkey']);
  assert.equal(await page.locator('#passkey').textContent(), 'Sign in with a passkey');
});

test('wrong password shows an accessible error', async () => {
  const { challenge } = pkce();
  await page.goto(authorizeURL('spa', challenge));
  const res = await submitPassword('alice', 'not-her-password');
  assert.equal(res.status(), 401);
  await page.waitForLoadState();
  const alert = page.getByRole('alert').filter({ hasText: 'Invalid username or password.' });
  assert.ok(await alert.isVisible());
  assert.equal(await page.locator('form').getAttribute('aria-describedby'), await alert.getAttribute('id'));
  assert.equal(await page.getByLabel('Username').inputValue(), 'alice', 'the username is kept');
  assert.ok(page.url().startsWith(IAM), 'no redirect after a wrong password');
});

test('password login lands on the redirect URI with a code that is exchanged', async () => {
  const { verifier, challenge } = pkce();
  await page.goto(authorizeURL('spa', challenge));
  await submitPassword('alice', 'alice-password');
  const claims = await exchange(await landed(), 'spa', verifier);
  assert.equal(claims.sub, 'acme/alice');
  assert.equal(claims.iss, IAM);
});

async function virtualAuthenticator() {
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  });
  return authenticatorId;
}

let authenticatorId;

test('passkey registration for the signed-in user', async () => {
  authenticatorId = await virtualAuthenticator();
  // alice has an SSO session from the previous test.
  await page.goto(`${IAM}/v1/iam/webauthn`);
  assert.ok(await page.getByText('You have no passkeys yet.').isVisible());
  const finished = page.waitForResponse((r) => r.url().endsWith('/v1/iam/webauthn/register/finish'));
  // The page reloads itself after the registration: wait for that load,
  // not the current page's (which has the same heading and no passkey).
  const reloaded = page.waitForEvent('load');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  assert.equal((await finished).status(), 200);
  await reloaded;
  await page.getByRole('heading', { name: 'Your passkeys' }).waitFor();
  assert.equal(await page.locator('ul.passkeys li').count(), 1);
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true);
  assert.equal(credentials[0].rpId, new URL(IAM).hostname);
});

test('passwordless login with the passkey', async () => {
  await context.clearCookies();
  const { verifier, challenge } = pkce();
  await page.goto(authorizeURL('spa', challenge));
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  const claims = await exchange(await landed(), 'spa', verifier);
  assert.equal(claims.sub, 'acme/alice');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.ok(credentials[0].signCount >= 2, `sign count ${credentials[0].signCount}`);
});

test('the passkey is the second factor after the password', async () => {
  await context.clearCookies();
  const { verifier, challenge } = pkce();
  await page.goto(authorizeURL('spa', challenge));
  const res = await submitPassword('alice', 'alice-password');
  assert.equal(res.status(), 200);
  await page.getByRole('heading', { name: "Confirm it's you" }).waitFor();
  assert.ok(page.url().startsWith(IAM), 'the password alone must not redirect');
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  const claims = await exchange(await landed(), 'spa', verifier);
  assert.equal(claims.sub, 'acme/alice');
});

test('required MFA: the password leads to passkey enrolment, then to the code', async () => {
  await context.clearCookies();
  const { verifier, challenge } = pkce();
  await page.goto(authorizeURL('sec', challenge));
  assert.ok(await page.getByText('Secure Co', { exact: true }).isVisible());
  await submitPassword('carol', 'carol-password');
  await page.getByRole('heading', { name: 'Set up a passkey' }).waitFor();
  await page.getByRole('button', { name: 'Create a passkey' }).click();
  const claims = await exchange(await landed(), 'sec', verifier);
  assert.equal(claims.sub, 'secure/carol');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 2);
});

test('a cancelled passkey prompt is reported in the alert region', async () => {
  await context.clearCookies();
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
  // An authenticator that holds none of the user's credentials and cannot
  // verify the user: the browser rejects the ceremony (NotAllowedError).
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false,
      automaticPresenceSimulation: true },
  });
  const { challenge } = pkce();
  await page.goto(authorizeURL('spa', challenge));
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  const alert = page.locator('#passkey-error');
  await alert.waitFor({ state: 'visible', timeout: 30000 });
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.ok((await alert.textContent()).length > 0);
  assert.ok(page.url().startsWith(IAM));
});
