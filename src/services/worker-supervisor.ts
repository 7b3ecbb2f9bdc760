import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import path from 'node:path';
import type { Logger } from '../log.ts';

/**
 * Runs N worker processes (`workers/main.ts`) as children of the server and restarts any that
 * die unexpectedly. Children exit by themselves if the server dies (their IPC channel closes).
 */
export class WorkerSupervisor {
  readonly #children = new Set<ChildProcess>();
  #stopping = false;
  /** Consecutive quick crashes, for backoff: a worker that cannot start must not spin. */
  #crashes = 0;
  readonly #messages = new EventEmitter();

  constructor(
    private readonly count: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
    private readonly entry = path.resolve(import.meta.dirname, '../../workers/main.ts'),
    private readonly role = 'worker',
  ) {}

  start(): void {
    for (let i = 0; i < this.count; i++) this.#spawn();
  }

  pids(): number[] {
    return [...this.#children].map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  #spawn(): void {
    const child = fork(this.entry, [], { env: this.env, execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const started = Date.now();
    this.#children.add(child);
    child.on('message', (message: { type?: string }) => {
      if (message?.type) this.#messages.emit(message.type, message);
    });
    child.once('exit', (code, signal) => {
      this.#children.delete(child);
      if (this.#stopping) return;
      // A worker that cannot start exits by itself, quickly. One SIGKILLed from outside (an
      // operator, the OOM killer) was running: it is restarted at once, however young it was.
      const startupCrash = signal !== 'SIGKILL' && Date.now() - started < 10_000;
      this.#crashes = startupCrash ? this.#crashes + 1 : 0;
      const delay = Math.min(30_000, 500 * 2 ** this.#crashes);
      this.log.warn(`${this.role} process exited; restarting`, { code, signal, inMs: delay });
      setTimeout(() => {
        if (!this.#stopping) this.#spawn();
      }, delay).unref();
    });
  }

  /** Resolves with the first `{type}` message a child sends (its "ready"), or fails after `timeoutMs`. */
  async waitForMessage<T>(type: string, timeoutMs: number): Promise<T> {
    const [message] = (await once(this.#messages, type, { signal: AbortSignal.timeout(timeoutMs) }).catch(
      () => {
        throw new Error(`no ${this.role} reported "${type}" within ${timeoutMs / 1000} s`);
      },
    )) as [T];
    return message;
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), timeoutMs).unref();
          }),
      ),
    );
  }
}
