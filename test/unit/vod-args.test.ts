import { describe, expect, it } from 'vitest';
import { buildPosterArgs, buildVodTranscodeArgs, gopFrames } from '../../pipelines/vod-args.ts';
import { DEFAULT_LADDER_POLICY, selectLadder } from '../../pipelines/vod-ladder.ts';

const ladder = selectLadder(
  {
    codec: 'h264',
    width: 1280,
    height: 720,
    displayWidth: 1280,
    displayHeight: 720,
    rotation: 0,
    frameRate: { num: 60, den: 1 },
  },
  DEFAULT_LADDER_POLICY,
);

const base = {
  input: '/in/source',
  outputUrl: 'http://127.0.0.1:40000/3f2a',
  segmentSeconds: 4,
  gopSeconds: 2,
  x264Preset: 'veryfast',
  audioBitrateKbps: 128,
};

function valueAfter(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('buildVodTranscodeArgs', () => {
  const args = buildVodTranscodeArgs({ ...base, ladder, audio: true });

  it('decodes once and splits into every rung in one filter graph', () => {
    expect(args.filter((a) => a === '-i')).toHaveLength(1);
    expect(valueAfter(args, '-filter_complex')).toBe(
      '[0:v:0]fps=60/2,format=yuv420p,split=3[s0][s1][s2];' +
        '[s0]scale=1280:720:flags=bicubic,setsar=1[v0];' +
        '[s1]scale=854:480:flags=bicubic,setsar=1[v1];' +
        '[s2]scale=640:360:flags=bicubic,setsar=1[v2]',
    );
  });

  it('fixes the GOP from the segment plan and turns scene-cut keyframes off', () => {
    expect(gopFrames({ ladder, gopSeconds: 2 })).toBe(60);
    expect(valueAfter(args, '-x264-params')).toBe('keyint=60:min-keyint=60:scenecut=0:open-gop=0');
  });

  it('keeps -var_stream_map as one argument with a shared audio group', () => {
    expect(valueAfter(args, '-var_stream_map')).toBe(
      'v:0,agroup:aud,name:720p v:1,agroup:aud,name:480p v:2,agroup:aud,name:360p a:0,agroup:aud,name:audio',
    );
  });

  it('caps each rung with its own maxrate', () => {
    expect(valueAfter(args, '-maxrate:v:0')).toBe('2500k');
    expect(valueAfter(args, '-bufsize:v:0')).toBe('5000k');
    expect(valueAfter(args, '-crf:v:2')).toBe('25');
  });

  it('writes fMP4 HLS as a growing EVENT playlist, by PUT to the segment sink', () => {
    expect(args.slice(args.indexOf('-f'))).toEqual([
      ...['-f', 'hls', '-hls_time', '4', '-hls_playlist_type', 'event'],
      ...['-hls_segment_type', 'fmp4', '-hls_flags', 'independent_segments'],
      ...['-method', 'PUT', '-http_persistent', '1'],
      ...['-hls_fmp4_init_filename', 'init.mp4'],
      ...['-hls_segment_filename', 'http://127.0.0.1:40000/3f2a/%v/seg_%05d.m4s'],
      '-var_stream_map',
      'v:0,agroup:aud,name:720p v:1,agroup:aud,name:480p v:2,agroup:aud,name:360p a:0,agroup:aud,name:audio',
      'http://127.0.0.1:40000/3f2a/%v/index.m3u8',
    ]);
    // Renaming a temporary file is a local-disk step: never over HTTP.
    expect(args.join(' ')).not.toContain('temp_file');
  });

  it('builds an audio-only output without a filter graph', () => {
    const audioOnly = buildVodTranscodeArgs({ ...base, audio: true });
    expect(audioOnly).not.toContain('-filter_complex');
    expect(valueAfter(audioOnly, '-var_stream_map')).toBe('a:0,name:audio');
  });

  it('maps no audio for a silent video', () => {
    const silent = buildVodTranscodeArgs({ ...base, ladder, audio: false });
    expect(silent).not.toContain('0:a:0');
    expect(valueAfter(silent, '-var_stream_map')).toBe('v:0,name:720p v:1,name:480p v:2,name:360p');
  });

  it('hangs the storyboard stills off the same decode', () => {
    const withStills = buildVodTranscodeArgs({
      ...base,
      ladder,
      audio: true,
      stills: { everySeconds: 2, width: 320, height: 180, pattern: '/w/still_%05d.png' },
    });
    const graph = valueAfter(withStills, '-filter_complex')!;
    expect(graph).toContain('split=4');
    expect(graph).toContain('[s3]fps=1/2,scale=320:180,setsar=1[stills]');
    expect(withStills.slice(withStills.lastIndexOf('-map'))).toEqual([
      '-map',
      '[stills]',
      '-c:v',
      'png',
      '-f',
      'image2',
      '/w/still_%05d.png',
    ]);
  });

  it('cuts the poster from the finished top rung', () => {
    expect(buildPosterArgs({ input: '/w/poster-source.mp4', atSeconds: 6, file: '/w/poster.png' })).toEqual([
      ...['-hide_banner', '-nostdin', '-y', '-loglevel', 'error'],
      ...['-ss', '6.000', '-i', '/w/poster-source.mp4'],
      ...['-map', '0:v:0', '-frames:v', '1', '-c:v', 'png', '-f', 'image2', '-update', '1', '/w/poster.png'],
    ]);
  });
});
