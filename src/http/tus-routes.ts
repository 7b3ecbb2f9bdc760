import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import { findAccountUpload, insertUpload, type UploadRow } from '../db/uploads.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../log.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import {
  appendBody,
  BodyInterruptedError,
  finishUpload,
  removeUpload,
  TooManyPartsError,
  UPLOAD_TTL_MS,
  UploadConflictError,
  UploadGoneError,
  UploadOverflowError,
  MAX_PARTS,
} from '../services/resumable-uploads.ts';
import type { Storage } from '../storage/storage.ts';
import { AssetFilename, assetTitle, tooLargeError } from './assets-routes.ts';
import { accountOf } from './auth.ts';
import { HttpError, parseOr400 } from './errors.ts';
import { httpDate, parseByteCount, parseUploadMetadata, TUS_VERSION } from './tus-headers.ts';

/**
 * Resumable uploads with the tus 1.0.0 protocol (https://tus.io/protocols/resumable-upload): the
 * core protocol with the creation, creation-with-upload, termination and expiration extensions.
 * What is stored and how is `src/services/resumable-uploads.ts`; this is the HTTP side.
 */

const EXTENSIONS = 'creation,creation-with-upload,termination,expiration';
const OFFSET_OCTET_STREAM = 'application/offset+octet-stream';
/** Answers carry the asset a finished upload became. */
export const ASSET_ID_HEADER = 'Onair-Asset-Id';

const UploadId = z.string().regex(/^up_[A-Za-z0-9]{16}$/);
const UploadFields = z.object({
  title: assetTitle('is required: add a "title" pair to Upload-Metadata'),
  filename: AssetFilename,
  filetype: z.string().trim().max(255, 'must be at most 255 characters').optional(),
});

export interface TusRoutesDeps {
  db: Db;
  storage: Storage;
  queues: JobQueues;
  log: Logger;
  maxUploadBytes: number;
  /** Public base URL, from configuration: upload URLs are built from it, never from Host. */
  baseUrl: () => string;
}

/** Mounted before the auth middleware, so its refusals carry the header too (tus §Tus-Resumable). */
export const tusResumableHeader: RequestHandler = (_req, res, next) => {
  res.set('Tus-Resumable', TUS_VERSION);
  next();
};

function mediaType(req: Request): string | undefined {
  return req.get('content-type')?.split(';')[0]!.trim().toLowerCase();
}

/** The request's declared body length, or undefined (chunked, or none). */
function declaredLength(req: Request): number | undefined {
  const parsed = parseByteCount(req.get('content-length'));
  return parsed?.ok ? parsed.value : undefined;
}

function hasBody(req: Request): boolean {
  return (declaredLength(req) ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
}

function isExpired(row: UploadRow): boolean {
  return !row.finished_at && Date.parse(row.expires_at) <= Date.now();
}

function offsetHeaders(res: Response, row: UploadRow, offset: number, assetId: string | undefined): void {
  res.set('Upload-Offset', String(offset));
  if (assetId) res.set(ASSET_ID_HEADER, assetId);
  else res.set('Upload-Expires', httpDate(row.expires_at));
}

export function tusRoutes(deps: TusRoutesDeps): Router {
  const { db, storage } = deps;
  const router = Router();
  const store = { db, storage };

  router.options(['/', '/:id'], (_req, res) => {
    // tus §OPTIONS: the server ignores Tus-Resumable on OPTIONS.
    res
      .status(204)
      .set({
        'Tus-Version': TUS_VERSION,
        'Tus-Extension': EXTENSIONS,
        'Tus-Max-Size': String(deps.maxUploadBytes),
      })
      .end();
  });

  router.use((req, res, next) => {
    res.set('Cache-Control', 'no-store');
    if (req.get('tus-resumable') === TUS_VERSION) return next();
    res.set('Tus-Version', TUS_VERSION);
    if (!req.complete) res.set('Connection', 'close');
    next(
      new HttpError(
        412,
        'tus_version',
        `Send the header "Tus-Resumable: ${TUS_VERSION}": this server speaks tus ${TUS_VERSION}.`,
      ),
    );
  });

  /** The caller's upload `:id`; another account's, or a malformed id, is "not found". */
  async function ownUpload(
    req: Request,
    res: Response,
    opts: { expired?: 'allowed' } = {},
  ): Promise<UploadRow> {
    const id = UploadId.safeParse(req.params.id);
    const row = id.success ? await findAccountUpload(db, accountOf(res).id, id.data) : undefined;
    if (!row)
      throw new HttpError(
        404,
        'not_found',
        'No such upload in this account: create one with POST /api/uploads.',
      );
    if (isExpired(row) && opts.expired !== 'allowed') {
      throw new HttpError(
        410,
        'expired',
        'This upload expired unfinished and is being removed: start a new one.',
      );
    }
    return row;
  }

  /** The asset id once complete (or undefined while another request assembles the file). */
  async function finishIfComplete(row: UploadRow, offset: number): Promise<string | undefined> {
    if (offset < row.upload_length) return undefined;
    return finishUpload({ db, storage, queues: deps.queues, log: deps.log }, row);
  }

  /** Appends the body, mapping the service's refusals to HTTP (the request is answered on its connection). */
  async function append(row: UploadRow, req: Request): Promise<number> {
    try {
      return await appendBody(store, row, req);
    } catch (err) {
      if (err instanceof UploadConflictError) {
        throw new HttpError(
          409,
          'offset_conflict',
          'Another request appended to this upload meanwhile: ask its offset again (HEAD) and resume from there.',
        );
      }
      if (err instanceof UploadOverflowError) {
        throw new HttpError(
          413,
          'too_long',
          `The request sends more bytes than the upload has left (Upload-Length ${row.upload_length}).`,
        );
      }
      if (err instanceof TooManyPartsError) {
        throw new HttpError(
          400,
          'too_many_parts',
          `This upload has been sent in ${MAX_PARTS} pieces, the most allowed: send larger PATCH requests, or start a new upload.`,
        );
      }
      if (err instanceof UploadGoneError) throw new HttpError(404, 'not_found', 'This upload was removed.');
      if (err instanceof BodyInterruptedError) {
        throw new HttpError(
          400,
          'upload_interrupted',
          'The request body stopped before its end: HEAD and resume.',
        );
      }
      throw err;
    }
  }

  /** A refused request whose body is still coming: answer, then close rather than read it all. */
  const closeUnread =
    (handler: (req: Request, res: Response) => Promise<void>) =>
    async (req: Request, res: Response): Promise<void> => {
      try {
        await handler(req, res);
      } catch (err) {
        if (!req.complete) res.set('Connection', 'close');
        throw err;
      }
    };

  router.post(
    '/',
    closeUnread(async (req, res) => {
      if (req.get('upload-defer-length') !== undefined) {
        throw new HttpError(
          400,
          'invalid_request',
          'Upload-Defer-Length is not supported: send Upload-Length.',
        );
      }
      const length = parseByteCount(req.get('upload-length'));
      if (!length) {
        throw new HttpError(400, 'invalid_request', "Send Upload-Length: the file's size in bytes.");
      }
      if (!length.ok) throw new HttpError(400, 'invalid_request', `Upload-Length ${length.problem}.`);
      if (length.value > deps.maxUploadBytes) throw tooLargeError(deps.maxUploadBytes);
      if (length.value === 0)
        throw new HttpError(400, 'empty_body', 'The file is empty: choose the recording itself.');
      const metadata = parseUploadMetadata(req.get('upload-metadata'));
      if (!metadata.ok) throw new HttpError(400, 'invalid_request', `Upload-Metadata ${metadata.problem}.`);
      const fields = parseOr400(UploadFields, Object.fromEntries(metadata.value), 'Upload-Metadata');
      const withUpload = mediaType(req) === OFFSET_OCTET_STREAM;
      if (!withUpload && hasBody(req)) {
        throw new HttpError(
          415,
          'unsupported_media_type',
          `Send the file's bytes with "Content-Type: ${OFFSET_OCTET_STREAM}", or none with the creation request.`,
        );
      }
      if (withUpload && (declaredLength(req) ?? 0) > length.value) {
        throw new HttpError(413, 'too_long', 'The request sends more bytes than its Upload-Length.');
      }

      const row = await insertUpload(db, {
        id: newId('up'),
        accountId: accountOf(res).id,
        assetId: newId('as'),
        title: fields.title,
        filename: fields.filename,
        filetype: fields.filetype,
        length: length.value,
        expiresAt: new Date(Date.now() + UPLOAD_TTL_MS).toISOString(),
      });
      res.set('Location', `${deps.baseUrl()}/api/uploads/${row.id}`);
      let offset = 0;
      let assetId: string | undefined;
      if (withUpload) {
        try {
          offset = await append(row, req);
        } catch (err) {
          // A refused body leaves nothing behind; a dropped one leaves the upload to resume.
          if (err instanceof HttpError && err.code !== 'upload_interrupted')
            await removeUpload(store, row.id);
          throw err;
        }
        assetId = await finishIfComplete(row, offset);
      }
      offsetHeaders(res, row, offset, assetId);
      res.status(201).end();
    }),
  );

  router.head('/:id', async (req, res) => {
    const row = await ownUpload(req, res);
    res.set('Upload-Length', String(row.upload_length));
    offsetHeaders(res, row, row.upload_offset, row.finished_at ? row.asset_id : undefined);
    res.status(200).end();
  });

  router.patch(
    '/:id',
    closeUnread(async (req, res) => {
      const row = await ownUpload(req, res);
      if (mediaType(req) !== OFFSET_OCTET_STREAM) {
        throw new HttpError(
          415,
          'unsupported_media_type',
          `Send PATCH bodies with "Content-Type: ${OFFSET_OCTET_STREAM}".`,
        );
      }
      const offset = parseByteCount(req.get('upload-offset'));
      if (!offset)
        throw new HttpError(400, 'invalid_request', 'Send Upload-Offset: where these bytes start.');
      if (!offset.ok) throw new HttpError(400, 'invalid_request', `Upload-Offset ${offset.problem}.`);
      if (offset.value !== row.upload_offset) {
        throw new HttpError(
          409,
          'offset_conflict',
          `The upload is at byte ${row.upload_offset}, not ${offset.value}: ask its offset (HEAD) and resume from there.`,
        );
      }
      if (offset.value + (declaredLength(req) ?? 0) > row.upload_length) {
        throw new HttpError(
          413,
          'too_long',
          `The request sends more bytes than the upload has left (Upload-Length ${row.upload_length}).`,
        );
      }
      const reached = row.upload_offset < row.upload_length ? await append(row, req) : row.upload_offset;
      const assetId = row.finished_at ? row.asset_id : await finishIfComplete(row, reached);
      if (reached === row.upload_length && !assetId) {
        res.set('Retry-After', '2');
        throw new HttpError(
          423,
          'upload_finishing',
          'This upload is complete and its file is being assembled: ask again (HEAD) in a few seconds.',
        );
      }
      offsetHeaders(res, row, reached, assetId);
      res.status(204).end();
    }),
  );

  router.delete('/:id', async (req, res) => {
    const row = await ownUpload(req, res, { expired: 'allowed' });
    await removeUpload(store, row.id);
    res.status(204).end();
  });

  return router;
}
