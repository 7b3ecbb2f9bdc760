import { describe, expect, it } from 'vitest';
import {
  AUDIO_PT,
  VIDEO_PT,
  bridgeSdp,
  candidateAddress,
  chooseCodecs,
  filterAnswerCandidates,
  parseOfferMedia,
  parseTrickleFragment,
  whipBridgeArgs,
} from '../../pipelines/whip-sdp.ts';

/** A real offer from Chromium 156 (fake camera and microphone, sendonly, gathering complete), captured once. */
const CHROMIUM_OFFER =
  [
    'v=0',
    'o=- 1680136265790883676 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS 87d95899-0fd9-49f9-9904-a9e570900ec8',
    'm=audio 41061 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:2642004807 1 udp 2122194687 127.0.0.1 41061 typ host generation 0 network-id 3 network-cost 50',
    'a=candidate:2044279251 1 udp 2122063615 192.0.2.2 55806 typ host generation 0 network-id 1',
    'a=candidate:2354436559 1 udp 2122267903 ::1 34891 typ host generation 0 network-id 4 network-cost 50',
    'a=candidate:2998925363 1 udp 2122134271 fd00::2 42099 typ host generation 0 network-id 2',
    'a=candidate:1674780627 1 tcp 1518214911 127.0.0.1 9 typ host tcptype active generation 0 network-id 3 network-cost 50',
    'a=candidate:2272521543 1 tcp 1518083839 192.0.2.2 9 typ host tcptype active generation 0 network-id 1',
    'a=candidate:1929317723 1 tcp 1518288127 ::1 9 typ host tcptype active generation 0 network-id 4 network-cost 50',
    'a=candidate:1276456103 1 tcp 1518154495 fd00::2 9 typ host tcptype active generation 0 network-id 2',
    'a=ice-ufrag:TK5b',
    'a=ice-pwd:ytnGabRLeL2ZFw/GLICQs5xs',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 6D:49:28:71:88:B9:E9:A7:9B:07:18:58:27:C5:2C:BC:AF:EC:A0:13:3B:7F:E8:9F:F9:30:92:50:8D:87:AD:1C',
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=sendonly',
    'a=msid:87d95899-0fd9-49f9-9904-a9e570900ec8 b3209ca7-a04d-4768-a6fc-cbac608e1317',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtcp-xr:rcvr-rtt=all',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:3491472801 cname:+2TAaoC7a/xxH2rU',
    'a=ssrc:3491472801 msid:87d95899-0fd9-49f9-9904-a9e570900ec8 b3209ca7-a04d-4768-a6fc-cbac608e1317',
    'm=video 33919 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 120',
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:2642004807 1 udp 2122194687 127.0.0.1 33919 typ host generation 0 network-id 3 network-cost 50',
    'a=candidate:2044279251 1 udp 2122063615 192.0.2.2 42495 typ host generation 0 network-id 1',
    'a=candidate:2354436559 1 udp 2122267903 ::1 44107 typ host generation 0 network-id 4 network-cost 50',
    'a=candidate:2998925363 1 udp 2122134271 fd00::2 58832 typ host generation 0 network-id 2',
    'a=candidate:1674780627 1 tcp 1518214911 127.0.0.1 9 typ host tcptype active generation 0 network-id 3 network-cost 50',
    'a=candidate:2272521543 1 tcp 1518083839 192.0.2.2 9 typ host tcptype active generation 0 network-id 1',
    'a=candidate:1929317723 1 tcp 1518288127 ::1 9 typ host tcptype active generation 0 network-id 4 network-cost 50',
    'a=candidate:1276456103 1 tcp 1518154495 fd00::2 9 typ host tcptype active generation 0 network-id 2',
    'a=ice-ufrag:TK5b',
    'a=ice-pwd:ytnGabRLeL2ZFw/GLICQs5xs',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 6D:49:28:71:88:B9:E9:A7:9B:07:18:58:27:C5:2C:BC:AF:EC:A0:13:3B:7F:E8:9F:F9:30:92:50:8D:87:AD:1C',
    'a=setup:actpass',
    'a=mid:1',
    'a=extmap:14 urn:ietf:params:rtp-hdrext:toffset',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:13 urn:3gpp:video-orientation',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
    'a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type',
    'a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing',
    'a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
    'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
    'a=sendonly',
    'a=msid:87d95899-0fd9-49f9-9904-a9e570900ec8 d3ddeb08-0194-4649-b9c1-d55ec30f0ca3',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtcp-xr:rcvr-rtt=all',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 goog-remb',
    'a=rtcp-fb:96 transport-cc',
    'a=rtcp-fb:96 ccm fir',
    'a=rtcp-fb:96 nack',
    'a=rtcp-fb:96 nack pli',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    'a=rtpmap:102 H264/90000',
    'a=rtcp-fb:102 goog-remb',
    'a=rtcp-fb:102 transport-cc',
    'a=rtcp-fb:102 ccm fir',
    'a=rtcp-fb:102 nack',
    'a=rtcp-fb:102 nack pli',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
    'a=rtpmap:103 rtx/90000',
    'a=fmtp:103 apt=102',
    'a=rtpmap:104 H264/90000',
    'a=rtcp-fb:104 goog-remb',
    'a=rtcp-fb:104 transport-cc',
    'a=rtcp-fb:104 ccm fir',
    'a=rtcp-fb:104 nack',
    'a=rtcp-fb:104 nack pli',
    'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
    'a=rtpmap:107 rtx/90000',
    'a=fmtp:107 apt=104',
    'a=rtpmap:108 H264/90000',
    'a=rtcp-fb:108 goog-remb',
    'a=rtcp-fb:108 transport-cc',
    'a=rtcp-fb:108 ccm fir',
    'a=rtcp-fb:108 nack',
    'a=rtcp-fb:108 nack pli',
    'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=rtpmap:109 rtx/90000',
    'a=fmtp:109 apt=108',
    'a=rtpmap:114 H264/90000',
    'a=rtcp-fb:114 goog-remb',
    'a=rtcp-fb:114 transport-cc',
    'a=rtcp-fb:114 ccm fir',
    'a=rtcp-fb:114 nack',
    'a=rtcp-fb:114 nack pli',
    'a=fmtp:114 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
    'a=rtpmap:115 rtx/90000',
    'a=fmtp:115 apt=114',
    'a=rtpmap:116 H264/90000',
    'a=rtcp-fb:116 goog-remb',
    'a=rtcp-fb:116 transport-cc',
    'a=rtcp-fb:116 ccm fir',
    'a=rtcp-fb:116 nack',
    'a=rtcp-fb:116 nack pli',
    'a=fmtp:116 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f',
    'a=rtpmap:117 rtx/90000',
    'a=fmtp:117 apt=116',
    'a=rtpmap:39 H264/90000',
    'a=rtcp-fb:39 goog-remb',
    'a=rtcp-fb:39 transport-cc',
    'a=rtcp-fb:39 ccm fir',
    'a=rtcp-fb:39 nack',
    'a=rtcp-fb:39 nack pli',
    'a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f',
    'a=rtpmap:40 rtx/90000',
    'a=fmtp:40 apt=39',
    'a=rtpmap:45 AV1/90000',
    'a=rtcp-fb:45 goog-remb',
    'a=rtcp-fb:45 transport-cc',
    'a=rtcp-fb:45 ccm fir',
    'a=rtcp-fb:45 nack',
    'a=rtcp-fb:45 nack pli',
    'a=fmtp:45 level-idx=5;profile=0;tier=0',
    'a=rtpmap:46 rtx/90000',
    'a=fmtp:46 apt=45',
    'a=rtpmap:98 VP9/90000',
    'a=rtcp-fb:98 goog-remb',
    'a=rtcp-fb:98 transport-cc',
    'a=rtcp-fb:98 ccm fir',
    'a=rtcp-fb:98 nack',
    'a=rtcp-fb:98 nack pli',
    'a=fmtp:98 profile-id=0',
    'a=rtpmap:99 rtx/90000',
    'a=fmtp:99 apt=98',
    'a=rtpmap:100 VP9/90000',
    'a=rtcp-fb:100 goog-remb',
    'a=rtcp-fb:100 transport-cc',
    'a=rtcp-fb:100 ccm fir',
    'a=rtcp-fb:100 nack',
    'a=rtcp-fb:100 nack pli',
    'a=fmtp:100 profile-id=2',
    'a=rtpmap:101 rtx/90000',
    'a=fmtp:101 apt=100',
    'a=rtpmap:118 red/90000',
    'a=rtpmap:119 rtx/90000',
    'a=fmtp:119 apt=118',
    'a=rtpmap:120 ulpfec/90000',
    'a=ssrc-group:FID 1888688966 3993138680',
    'a=ssrc:1888688966 cname:+2TAaoC7a/xxH2rU',
    'a=ssrc:1888688966 msid:87d95899-0fd9-49f9-9904-a9e570900ec8 d3ddeb08-0194-4649-b9c1-d55ec30f0ca3',
    'a=ssrc:3993138680 cname:+2TAaoC7a/xxH2rU',
    'a=ssrc:3993138680 msid:87d95899-0fd9-49f9-9904-a9e570900ec8 d3ddeb08-0194-4649-b9c1-d55ec30f0ca3',
  ].join('\r\n') + '\r\n';

describe('WHIP offer parsing and codec choice', () => {
  const media = parseOfferMedia(CHROMIUM_OFFER);

  it('reads both sections of a Chromium offer in order, with their codecs', () => {
    expect(media.map((m) => [m.kind, m.mid, m.direction])).toEqual([
      ['audio', '0', 'sendonly'],
      ['video', '1', 'sendonly'],
    ]);
    const video = media[1]?.codecs ?? [];
    expect(video[0]).toMatchObject({ payloadType: 96, name: 'VP8', clockRate: 90000 });
    expect(video.find((c) => c.payloadType === 108)).toEqual({
      payloadType: 108,
      name: 'H264',
      clockRate: 90000,
      fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      feedback: ['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli'],
    });
    expect(media[0]?.codecs[0]).toMatchObject({
      payloadType: 111,
      name: 'opus',
      clockRate: 48000,
      channels: 2,
    });
  });

  it('prefers Constrained Baseline H.264 in packetization-mode 1 over VP8 (offered first) and Opus', () => {
    const choice = chooseCodecs(media);
    expect(choice.ok).toBe(true);
    if (!choice.ok) return;
    expect(choice.video.payloadType).toBe(108);
    expect(choice.audio?.payloadType).toBe(111);
  });

  it('falls back to VP8 when H.264 is offered only in packetization-mode 0 or not at all', () => {
    const noMode1 = media.map((m) => ({
      ...m,
      codecs: m.codecs.filter((c) => !(c.name === 'H264' && c.fmtp.includes('packetization-mode=1'))),
    }));
    const choice = chooseCodecs(noMode1);
    expect(choice.ok && choice.video.name).toBe('VP8');
  });

  it('refuses offers without usable video, or with several video tracks', () => {
    const audioOnly = media.filter((m) => m.kind === 'audio');
    expect(chooseCodecs(audioOnly)).toEqual({ ok: false, reason: 'The offer has no video.' });
    const av1Only = media.map((m) =>
      m.kind === 'video' ? { ...m, codecs: m.codecs.filter((c) => c.name === 'AV1') } : m,
    );
    expect(chooseCodecs(av1Only).ok).toBe(false);
    const twoVideos = [...media, media[1]!];
    expect(chooseCodecs(twoVideos)).toEqual({ ok: false, reason: 'Send one video track only.' });
    expect(chooseCodecs(parseOfferMedia('not an sdp')).ok).toBe(false);
  });

  it('takes video without audio (the bridge then adds silence), but not audio without Opus', () => {
    const videoOnly = media.filter((m) => m.kind === 'video');
    const choice = chooseCodecs(videoOnly);
    expect(choice.ok && choice.audio).toBeUndefined();
    const noOpus = media.map((m) =>
      m.kind === 'audio' ? { ...m, codecs: m.codecs.filter((c) => c.name !== 'opus') } : m,
    );
    expect(chooseCodecs(noOpus)).toEqual({ ok: false, reason: 'The offer has audio but no Opus.' });
  });

  it('ignores a rejected (port 0) section', () => {
    const rejected = media.map((m) => (m.kind === 'audio' ? { ...m, port: 0 } : m));
    const choice = chooseCodecs(rejected);
    expect(choice.ok && choice.audio).toBeUndefined();
  });
});

describe('the bridge SDP', () => {
  const choice = chooseCodecs(parseOfferMedia(CHROMIUM_OFFER));
  if (!choice.ok) throw new Error(choice.reason);

  it('puts video on P and audio on P+2 with RTCP on the next ports and the rewritten payload types', () => {
    expect(bridgeSdp(choice, 40000).split('\r\n')).toEqual([
      'v=0',
      'o=- 0 0 IN IP4 127.0.0.1',
      's=onair whip bridge',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=video 40000 RTP/AVP ${VIDEO_PT}`,
      'a=rtcp:40001',
      'a=rtpmap:96 H264/90000',
      'a=fmtp:96 packetization-mode=1;profile-level-id=42e01f',
      'a=recvonly',
      `m=audio 40002 RTP/AVP ${AUDIO_PT}`,
      'a=rtcp:40003',
      'a=rtpmap:111 opus/48000/2',
      'a=recvonly',
      '',
    ]);
  });

  it('declares VP8 when VP8 was chosen, and no audio section without audio', () => {
    const vp8 = { video: { payloadType: 96, name: 'VP8', clockRate: 90000, fmtp: '', feedback: [] } };
    const sdp = bridgeSdp(vp8, 50000);
    expect(sdp).toContain('a=rtpmap:96 VP8/90000\r\n');
    expect(sdp).not.toContain('m=audio');
  });
});

describe('trickle ICE fragments and answer candidates', () => {
  it('parses an RFC 8840 fragment with credentials, mids and end-of-candidates', () => {
    const frag = [
      'a=ice-options:trickle ice2',
      'a=group:BUNDLE 0 1',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'a=mid:0',
      'a=ice-ufrag:TK5b',
      'a=ice-pwd:ytnGabRLeL2ZFw/GLICQs5xs',
      'a=candidate:2642004807 1 udp 2122194687 127.0.0.1 41061 typ host generation 0',
      'a=candidate:2044279251 1 udp 2122063615 192.0.2.2 55806 typ host generation 0',
      'a=end-of-candidates',
      '',
    ].join('\r\n');
    expect(parseTrickleFragment(frag)).toEqual({
      ufrag: 'TK5b',
      pwd: 'ytnGabRLeL2ZFw/GLICQs5xs',
      candidates: [
        {
          candidate: 'candidate:2642004807 1 udp 2122194687 127.0.0.1 41061 typ host generation 0',
          sdpMid: '0',
        },
        {
          candidate: 'candidate:2044279251 1 udp 2122063615 192.0.2.2 55806 typ host generation 0',
          sdpMid: '0',
        },
      ],
      endOfCandidates: true,
    });
    expect(parseTrickleFragment('')).toEqual({ candidates: [], endOfCandidates: false });
    const noMid = parseTrickleFragment(
      'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n',
    );
    expect(noMid.candidates).toEqual([
      { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMLineIndex: 0 },
    ]);
  });

  it('keeps only the candidates whose address passes', () => {
    const filtered = filterAnswerCandidates(CHROMIUM_OFFER, (a) => a === '127.0.0.1');
    const addresses = filtered
      .split('\r\n')
      .filter((l) => l.startsWith('a=candidate:'))
      .map((l) => candidateAddress(l));
    expect(addresses.length).toBe(4); // udp + tcp, in both sections
    expect(new Set(addresses)).toEqual(new Set(['127.0.0.1']));
    expect(filtered).toContain('a=ice-ufrag:TK5b\r\n');
    expect(candidateAddress('candidate:1 1 udp')).toBeUndefined();
  });
});

describe('whipBridgeArgs', () => {
  it('reads the SDP with a long reorder window and re-encodes to CFR H.264 with a fixed GOP and AAC', () => {
    const args = whipBridgeArgs({
      sdpPath: '/tmp/x/in.sdp',
      rtmpUrl: 'rtmp://127.0.0.1:1935/live/one-time',
      fps: 30,
      gopFrames: 60,
      width: 1280,
      height: 720,
      audio: true,
    });
    expect(args).toEqual([
      ...['-hide_banner', '-nostdin', '-loglevel', 'warning'],
      ...['-protocol_whitelist', 'file,udp,rtp', '-max_delay', '500000', '-reorder_queue_size', '500'],
      ...['-f', 'sdp', '-i', '/tmp/x/in.sdp'],
      ...['-map', '0:v:0', '-map', '0:a:0'],
      '-vf',
      'fps=30,scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p',
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency'],
      ...['-crf', '21', '-maxrate', '4000k', '-bufsize', '8000k'],
      ...['-g', '60', '-keyint_min', '60', '-sc_threshold', '0'],
      ...['-r', '30', '-pix_fmt', 'yuv420p'],
      ...['-af', 'aresample=async=1'],
      ...['-c:a', 'aac', '-ar', '48000', '-ac', '2', '-b:a', '160k'],
      ...['-flvflags', 'no_duration_filesize', '-f', 'flv', 'rtmp://127.0.0.1:1935/live/one-time'],
    ]);
  });

  it('adds silent audio when the publisher sends none', () => {
    const args = whipBridgeArgs({
      sdpPath: 's.sdp',
      rtmpUrl: 'rtmp://x/live/y',
      fps: 25,
      gopFrames: 50,
      width: 640,
      height: 360,
      audio: false,
    });
    expect(args.slice(args.indexOf('-i', args.indexOf('s.sdp')) - 2, args.indexOf('-vf'))).toEqual([
      ...['-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo'],
      ...['-map', '0:v:0', '-map', '1:a:0'],
    ]);
    expect(args).toContain('-shortest');
    expect(args).not.toContain('aresample=async=1');
  });
});
