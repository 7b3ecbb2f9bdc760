import { describe, expect, it } from 'vitest';
import { judgeSource } from '../../pipelines/source-facts.ts';

describe('judgeSource', () => {
  it('accepts a video with audio and reads rotation and frame rate', () => {
    const verdict = judgeSource({
      format: { format_name: 'mov,mp4', duration: '12.5' },
      streams: [
        {
          codec_type: 'video',
          codec_name: 'h264',
          width: 1920,
          height: 1080,
          avg_frame_rate: '30000/1001',
          rotation: -90,
        },
        { codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000' },
      ],
    });
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    expect(verdict.facts.video).toMatchObject({ displayWidth: 1080, displayHeight: 1920, rotation: 270 });
    expect(verdict.facts.video?.frameRate).toEqual({ num: 30000, den: 1001 });
    expect(verdict.facts.durationSeconds).toBe(12.5);
  });

  it('treats cover art in an audio file as audio-only', () => {
    const verdict = judgeSource({
      format: { duration: 30 },
      streams: [
        { codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: 44100 },
        {
          codec_type: 'video',
          codec_name: 'mjpeg',
          width: 600,
          height: 600,
          avg_frame_rate: '0/0',
          r_frame_rate: '90000/1',
          disposition: { attached_pic: 1 },
        },
      ],
    });
    expect(verdict.ok && verdict.facts.video).toBe(undefined);
    expect(verdict.ok && verdict.facts.audio?.codec).toBe('mp3');
  });

  it('refuses files without video or audio, and empty ones, with a reason', () => {
    expect(judgeSource({ streams: [{ codec_type: 'data' }] })).toEqual({
      ok: false,
      reason: 'The file has no usable video or audio track.',
    });
    const empty = judgeSource({
      format: { duration: 'N/A' },
      streams: [{ codec_type: 'audio', codec_name: 'aac', channels: 2 }],
    });
    expect(empty.ok).toBe(false);
  });

  it('refuses a still image', () => {
    const verdict = judgeSource({
      format: { duration: 0.04 },
      streams: [{ codec_type: 'video', codec_name: 'png', width: 100, height: 100, avg_frame_rate: '25/1' }],
    });
    expect(verdict).toMatchObject({ ok: false, reason: 'The file is a still image, not a recording.' });
  });
});
