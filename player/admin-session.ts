/**
 * The app's sign-in: the session lives in an HttpOnly cookie (no key in localStorage for a script
 * to steal); every change carries the session's CSRF token. Also the pages a mailed link opens:
 * accepting an invitation (/admin/invitation#token=…) and choosing a new password (/admin/reset#token=…).
 */
export type Role = 'owner' | 'manager' | 'presenter';

export interface Session {
  user: { id: string; email: string; name: string };
  role: Role;
  account: { id: string; name: string; closed: boolean };
  csrfToken: string;
}

let current: Session | undefined;

export function session(): Session | undefined {
  return current;
}

/** Headers every change needs (the CSRF token of the session). */
export function csrfHeaders(): Record<string, string> {
  return current ? { 'x-csrf-token': current.csrfToken } : {};
}

/** An API call as the signed-in user. */
export function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(path, {
    ...init,
    credentials: 'same-origin',
    headers: { ...csrfHeaders(), ...(init.headers as Record<string, string> | undefined) },
  });
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

function show(text: string): void {
  $('#message').textContent = text;
}

async function errorOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `Failed (${response.status}).`;
  } catch {
    return `Failed (${response.status}).`;
  }
}

async function post(path: string, body: unknown): Promise<Response> {
  return api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const field = (id: string) => $<HTMLInputElement>(`#${id}`).value;

/** The token a mailed link carries in its fragment (never sent to a server by the browser). */
function fragmentToken(): string | undefined {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  return token ?? undefined;
}

function signedInAs(s: Session): void {
  current = s;
  $('#signed-out').hidden = true;
  $('#signed-in').hidden = false;
  $('#whoami').textContent = `${s.user.name} <${s.user.email}> · ${s.role} of ${s.account.name}`;
  document.body.dataset.role = s.role;
}

/**
 * Resolves with the session once the user is signed in: at once when the cookie is still good,
 * otherwise after they sign in, claim the first account, accept an invitation or reset a password.
 */
export function signIn(): Promise<Session> {
  return new Promise((resolve) => {
    const done = (s: Session) => {
      signedInAs(s);
      show('');
      // Back to the page that sent here to sign in (only a path of the app itself).
      const next = new URLSearchParams(location.hash.slice(1)).get('next');
      if (next && /^\/(admin\/events|admin\/assets|present)\/[A-Za-z0-9_]{1,40}$/.test(next))
        return location.assign(next);
      // A link's token has done its work: take it out of the address bar and the history.
      if (location.pathname !== '/admin' || location.hash) history.replaceState(null, '', '/admin');
      resolve(s);
    };
    const signedOut = () => {
      $('#signed-out').hidden = false;
      $('#signed-in').hidden = true;
      const token = fragmentToken();
      const mode = location.pathname.endsWith('/invitation')
        ? 'invitation'
        : location.pathname.endsWith('/reset')
          ? 'reset'
          : 'signin';
      for (const form of ['signin', 'claim', 'forgot', 'invitation', 'reset']) {
        $(`#${form}-form`).hidden = !(
          form === mode ||
          (mode === 'signin' && (form === 'claim' || form === 'forgot'))
        );
      }
      if (mode === 'invitation' && token) {
        void post('/api/auth/invitation', { token }).then(async (r) => {
          if (!r.ok) return show(await errorOf(r));
          const inv = (await r.json()) as { email: string; role: string; accountName: string };
          $('#invitation-about').textContent = `Join ${inv.accountName} as ${inv.role} (${inv.email}).`;
        });
      }
      if (mode === 'signin') show('Sign in to onair.');
    };

    const handle = (form: string, run: () => Promise<void>) =>
      $(`#${form}-form`).addEventListener('submit', (e) => {
        e.preventDefault();
        void run().catch((err: unknown) => show(String(err)));
      });
    const finish = async (response: Response) => {
      if (!response.ok) return show(await errorOf(response));
      done((await response.json()) as Session);
    };
    handle('signin', async () =>
      finish(
        await post('/api/auth/login', { email: field('signin-email'), password: field('signin-password') }),
      ),
    );
    handle('claim', async () =>
      finish(
        await post('/api/auth/signup', {
          email: field('claim-email'),
          name: field('claim-name'),
          password: field('claim-password'),
          apiKey: field('claim-key').trim(),
        }),
      ),
    );
    handle('forgot', async () => {
      const r = await post('/api/auth/password-reset', { email: field('forgot-email') });
      show(r.ok ? 'If this address has an onair sign-in, a reset link is on its way.' : await errorOf(r));
    });
    handle('invitation', async () =>
      finish(
        await post('/api/auth/invitation/accept', {
          token: fragmentToken() ?? '',
          name: field('invitation-name'),
          password: field('invitation-password'),
        }),
      ),
    );
    handle('reset', async () => {
      const r = await post('/api/auth/password-reset/confirm', {
        token: fragmentToken() ?? '',
        password: field('reset-password'),
      });
      if (!r.ok) return show(await errorOf(r));
      history.replaceState(null, '', '/admin');
      signedOut();
      show('Your password is changed. Sign in with it.');
    });
    $('#signout').addEventListener('click', () => {
      void api('/api/auth/logout', { method: 'POST' }).then(() => location.assign('/admin'));
    });

    void api('/api/auth/session').then(async (r) => {
      if (r.ok) done((await r.json()) as Session);
      else signedOut();
    });
  });
}

/** For the app's other pages: the session, or off to /admin to sign in (then back here). */
export async function requireSession(): Promise<Session> {
  const r = await api('/api/auth/session');
  if (!r.ok) {
    location.assign(`/admin#next=${encodeURIComponent(location.pathname)}`);
    return new Promise(() => undefined);
  }
  current = (await r.json()) as Session;
  document.body.dataset.role = current.role;
  return current;
}
