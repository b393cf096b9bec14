import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { kubernetesFrontEnd } from '../../server/src/frontends/kubernetes.js';
import type { FrontEndResult, OptionName, RequestedOption } from '../../server/src/core/types.js';
import { applyEdits, context, fixture, parseFixture, rangeText, summary, validYaml } from './frontend-yaml-helpers.js';

const inline = (text: string, runtimeClasses?: string[]): FrontEndResult =>
  kubernetesFrontEnd.parse({ path: '/k8s/pod.yaml', text }, context({}, runtimeClasses));

function option(result: FrontEndResult, name: OptionName, nth = 0): RequestedOption {
  const found = result.requests.flatMap((r) => r.options).filter((o) => o.option === name)[nth];
  assert.ok(found, `no ${name} option`);
  return found;
}

describe('kubernetes detection', () => {
  test('Pods and workloads with a pod template, by content', () => {
    for (const kind of [
      'Pod',
      'Deployment',
      'StatefulSet',
      'DaemonSet',
      'ReplicaSet',
      'ReplicationController',
      'Job',
      'CronJob',
      'PodTemplate',
    ]) {
      assert.equal(kubernetesFrontEnd.detect('/k/a.yaml', `apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: a\n`), true, kind);
    }
    assert.equal(
      kubernetesFrontEnd.detect('/k/a.yml', 'apiVersion: v1\nkind: Service\n---\napiVersion: apps/v1\nkind: "Deployment"\n'),
      true,
    );
  });

  test('not other kinds, Helm templates, compose files or non-YAML files', () => {
    assert.equal(kubernetesFrontEnd.detect('/k/a.yaml', 'apiVersion: v1\nkind: ConfigMap\ndata:\n  kind: Pod\n'), false);
    assert.equal(
      kubernetesFrontEnd.detect(
        '/k/templates/d.yaml',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include "x.fullname" . }}\n',
      ),
      false,
    );
    assert.equal(
      kubernetesFrontEnd.detect(
        '/k/templates/d.yaml',
        'apiVersion: apps/v1\nkind: Deployment\nspec:\n  {{- if .Values.hostNetwork }}\n  hostNetwork: true\n  {{- end }}\n',
      ),
      false,
    );
    assert.equal(
      kubernetesFrontEnd.detect(
        '/k/all.yaml',
        'apiVersion: v1\nkind: ConfigMap\ndata:\n  greeting: "{{ .Name }}"\n---\napiVersion: v1\nkind: Pod\n',
      ),
      true,
    );
    assert.equal(kubernetesFrontEnd.detect('/k/compose.yaml', 'services:\n  web:\n    image: nginx\n'), false);
    assert.equal(kubernetesFrontEnd.detect('/k/pod.json', 'apiVersion: v1\nkind: Pod\n'), false);
  });
});

describe('kubernetes options', () => {
  test('multi-document: the pod with a VM runtime class is linted, the other pod and the Service are not', () => {
    const path = fixture('kubernetes/multi.yaml');
    const result = parseFixture(kubernetesFrontEnd, 'kubernetes/multi.yaml');
    assert.deepEqual(result.problems, []);
    assert.deepEqual(
      result.requests.map((r) => [r.kind, r.name, r.file]),
      [['kubernetes', 'capture', path]],
    );
    assert.deepEqual(summary(result.requests[0]!.options, path), [
      ['network', 'host', '9:2-9:13'],
      ['pid', 'host', '10:2-10:9'],
      ['ipc', 'host', '11:2-11:9'],
      ['sysctl', { key: 'net.core.somaxconn', value: '1024' }, '14:8-15:21'],
      ['privileged', true, '20:8-20:18'],
      ['cap-add', 'NET_ADMIN', '26:16-26:27'],
      ['cap-add', 'NET_RAW', '26:29-26:38'],
      ['cap-drop', 'ALL', '28:14-28:17'],
      ['gpus', '1', '31:10-31:24'],
      // A hostPath under /dev is a volume from /dev, whatever its type (CharDevice here).
      ['mount', { type: 'bind', source: '/dev/kvm', target: '/dev/kvm' }, '34:10-35:29'],
      ['mount', { type: 'bind', source: '/sys', target: '/host/sys', readOnly: true, propagation: 'rslave' }, '36:10-39:24'],
      ['tmpfs', { target: '/scratch', size: '128Mi' }, '40:10-41:29'],
      ['subpath', 'app.conf', '44:10-44:17'],
      ['mount', { type: 'volume', target: '/data', propagation: 'rshared' }, '45:10-47:41'],
    ]);
  });

  test('runtime classes: exact names and * globs; no runtimeClassName is not linted', () => {
    const pod = (runtimeClass: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  ${runtimeClass}\n  hostIPC: true\n  containers:\n    - name: c\n      image: x\n`;
    assert.equal(inline(pod('runtimeClassName: kata-fc')).requests.length, 1);
    assert.equal(inline(pod('runtimeClassName: kata')).requests.length, 1);
    assert.equal(inline(pod('runtimeClassName: katana')).requests.length, 0);
    assert.equal(inline(pod('runtimeClassName: my.vm')).requests.length, 0);
    assert.equal(inline(pod('runtimeClassName: my.vm'), ['my.vm']).requests.length, 1);
    assert.equal(inline(pod('runtimeClassName: myxvm'), ['my.vm']).requests.length, 0);
    assert.equal(inline(pod('priority: 1')).requests.length, 0);
  });

  test('a Deployment and a CronJob: their pod templates, named by metadata.name', () => {
    const path = fixture('kubernetes/workloads.yaml');
    const result = parseFixture(kubernetesFrontEnd, 'kubernetes/workloads.yaml');
    assert.deepEqual(
      result.requests.map((r) => [r.name, summary(r.options, path)]),
      [
        [
          'web',
          [
            ['subpath', '$(POD_NAME)', '21:14-21:25'],
            ['mount', { type: 'bind', source: '/var/log/pods', target: '/var/log/nginx' }, '19:14-21:38'],
          ],
        ],
        [
          'backup',
          [
            ['network', 'host', '39:10-39:21'],
            ['privileged', true, '44:16-44:26'],
            ['cap-add', 'SYS_ADMIN', '47:22-47:31'],
          ],
        ],
      ],
    );
  });

  test('a kind: List (kubectl get -o yaml): each item is an object', () => {
    const list =
      'apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata:\n      name: a\n    spec:\n      runtimeClassName: vmrt\n      hostIPC: true\n  - apiVersion: v1\n    kind: Service\n    metadata:\n      name: s\n';
    assert.equal(kubernetesFrontEnd.detect('/k/out.yaml', list), true);
    assert.equal(
      kubernetesFrontEnd.detect('/k/out.yaml', 'apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n'),
      false,
    );
    const result = inline(list);
    assert.deepEqual(
      result.requests.map((r) => [r.name, summary(r.options, '/k8s/pod.yaml')]),
      [['a', [['ipc', 'host', '9:6-9:13']]]],
    );
    const out = validYaml(applyEdits(list, option(result, 'ipc').edit!.remove()))[0] as { items: Array<{ spec?: unknown }> };
    assert.deepEqual(out.items[0]!.spec, { runtimeClassName: 'vmrt' });
  });

  test('a clean Deployment asks for nothing; annotations are not findings', () => {
    const result = parseFixture(kubernetesFrontEnd, 'kubernetes/clean.yaml');
    assert.deepEqual(
      result.requests.map((r) => [r.name, r.options]),
      [['api', []]],
    );
    assert.deepEqual(result.problems, []);
  });

  test('a broken document is a parse-error at its place; the other documents are still linted', () => {
    const text =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\nspec:\n  runtimeClassName: vmrt\n  hostPID: true\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: broken\nspec:\n  runtimeClassName: vmrt\n';
    const result = inline(text);
    assert.deepEqual(
      result.requests.map((r) => [r.name, summary(r.options, '/k8s/pod.yaml')]),
      [['ok', [['pid', 'host', '6:2-6:9']]]],
    );
    assert.deepEqual(
      result.problems.map((p) => [p.rule, p.file, rangeText(p.range), p.message]),
      [
        [
          'parse-error',
          '/k8s/pod.yaml',
          '11:0-11:4',
          'YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
        ],
      ],
    );
  });
});

describe('kubernetes edits', () => {
  const text = readFileSync(fixture('kubernetes/multi.yaml'), 'utf8');
  const edited = (pick: (r: FrontEndResult) => RequestedOption) => {
    const result = parseFixture(kubernetesFrontEnd, 'kubernetes/multi.yaml');
    const docs = validYaml(applyEdits(text, pick(result).edit!.remove())) as Array<{ spec: Record<string, unknown> }>;
    assert.equal(docs.length, 3);
    return docs[0]!.spec;
  };

  test('remove a pod key, a sysctl entry (and its emptied parents), a flow entry', () => {
    assert.equal('hostNetwork' in edited((r) => option(r, 'network')), false);
    assert.equal('securityContext' in edited((r) => option(r, 'sysctl')), false);
    const containers = edited((r) => option(r, 'cap-add')).containers as Array<{ securityContext: unknown }>;
    assert.deepEqual(containers[0]!.securityContext, { capabilities: { add: ['NET_RAW'], drop: ['ALL'] } });
    const initContainers = edited((r) => option(r, 'privileged')).initContainers as unknown[];
    assert.deepEqual(initContainers, [{ name: 'setup', image: 'busybox:1.36' }]);
  });

  test('hostPath under /dev is a volume from /dev for every type; a device type elsewhere is a device', () => {
    const pod = (path: string, type: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  runtimeClassName: kata\n  containers:\n    - name: c\n      volumeMounts:\n        - name: v\n          mountPath: /dev/x\n  volumes:\n    - name: v\n      hostPath:\n        path: ${path}\n        type: ${type}\n`;
    for (const type of ['CharDevice', 'BlockDevice', 'File', 'Directory', 'DirectoryOrCreate', '""'])
      assert.deepEqual(
        inline(pod('/dev/kmsg', type)).requests[0]!.options.map((o) => o.option),
        ['mount'],
        type,
      );
    assert.deepEqual(
      inline(pod('/var/run/sda-link', 'BlockDevice')).requests[0]!.options.map((o) => o.option),
      ['device'],
    );
  });

  test('remove a host path mount: the mount and the volume nothing else mounts', () => {
    const spec = edited((r) => option(r, 'mount'));
    const mounts = (spec.containers as Array<{ volumeMounts: Array<{ name: string }> }>)[0]!.volumeMounts.map((m) => m.name);
    assert.deepEqual(mounts, ['host-sys', 'scratch', 'config', 'data']);
    assert.deepEqual(
      (spec.volumes as Array<{ name: string }>).map((v) => v.name),
      ['host-sys', 'scratch', 'config', 'data'],
    );
    const shared =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  runtimeClassName: vmrt\n  containers:\n    - name: a\n      volumeMounts:\n        - name: dev\n          mountPath: /dev/snd\n    - name: b\n      volumeMounts:\n        - name: dev\n          mountPath: /dev/snd\n  volumes:\n    - name: dev\n      hostPath:\n        path: /dev/snd\n';
    const result = inline(shared);
    const out = validYaml(applyEdits(shared, option(result, 'mount').edit!.remove()))[0] as {
      spec: { containers: unknown[]; volumes: unknown[] };
    };
    assert.deepEqual(out.spec.containers, [{ name: 'a' }, { name: 'b', volumeMounts: [{ name: 'dev', mountPath: '/dev/snd' }] }]);
    assert.deepEqual(out.spec.volumes, [{ name: 'dev', hostPath: { path: '/dev/snd' } }]);
  });

  test('replace a mount by the same mount without propagation: the mountPropagation key goes', () => {
    const result = parseFixture(kubernetesFrontEnd, 'kubernetes/multi.yaml');
    const mount = option(result, 'mount', 2);
    const { propagation: _dropped, ...withoutPropagation } = mount.value as { propagation?: string; target: string; type: 'volume' };
    const docs = validYaml(applyEdits(text, mount.edit!.replace([{ option: 'mount', value: withoutPropagation }])!)) as Array<{
      spec: { containers: Array<{ volumeMounts: unknown[] }> };
    }>;
    assert.deepEqual(docs[0]!.spec.containers[0]!.volumeMounts[4], { name: 'data', mountPath: '/data' });
    assert.equal(mount.edit!.replace([{ option: 'mount', value: { ...withoutPropagation, target: '/elsewhere' } }]), undefined);
    assert.equal(mount.edit!.replace([{ option: 'tmpfs', value: { target: '/data' } }]), undefined);
  });

  test('remove a key that shares its line with the list dash', () => {
    const pod =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  runtimeClassName: vmrt\n  containers:\n    - securityContext: {privileged: true}\n      name: a\n';
    const out = applyEdits(pod, option(inline(pod), 'privileged').edit!.remove());
    assert.equal(out, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  runtimeClassName: vmrt\n  containers:\n    - name: a\n');
    assert.equal(option(inline(pod), 'privileged').edit!.replace([{ option: 'privileged', value: false }]), undefined);
  });
});

describe('kubernetes robustness', () => {
  const text = readFileSync(fixture('kubernetes/multi.yaml'), 'utf8');
  const key = (o: RequestedOption) => `${o.option} ${JSON.stringify(o.value)}`;

  test("every option's remove() leaves valid YAML without that option and with every other one", () => {
    const before = inline(text).requests.flatMap((r) => r.options);
    for (const removed of before) {
      const out = applyEdits(text, removed.edit!.remove());
      validYaml(out);
      const after = inline(out)
        .requests.flatMap((r) => r.options)
        .map(key);
      assert.deepEqual(after, before.filter((o) => o !== removed).map(key), `removing ${key(removed)}`);
    }
  });

  test('a manifest cut at any point never throws', () => {
    for (let cut = 0; cut < text.length; cut += 5) {
      const result = inline(text.slice(0, cut));
      assert.ok(Array.isArray(result.requests) && Array.isArray(result.problems));
    }
  });
});
