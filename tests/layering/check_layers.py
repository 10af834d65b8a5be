#!/usr/bin/env python3
"""Checks that the server's folders include only the folders below them
(docs/architecture.md), and that the headers the service and the binaries
see of the engine pull in no LibTorch header, directly or through others.

usage: check_layers.py REPO_ROOT; prints each violation and exits 1 if any.
       check_layers.py --self-test; checks that a climbing include and a
       LibTorch header behind engine.h are both caught, in a made-up tree.
"""
import os
import re
import sys
import tempfile

# Each folder, bottom first, with the project folders it may include besides
# itself. A file in a folder not listed here is not checked.
ALLOWED = {
    'server/common': [],
    'server/engine/base': ['server/common'],
    'server/engine/text': ['server/common'],
    'server/engine/input': ['server/common', 'server/engine/base', 'server/engine/text'],
    'server/engine/store': ['server/common', 'server/engine/base'],
    'server/engine/runtime': ['server/common', 'server/engine/base'],
    'server/engine/adapt': ['server/common', 'server/engine/base', 'server/engine/store',
                            'server/engine/runtime'],
    'server/engine/model': ['server/common', 'server/engine/base', 'server/engine/text',
                            'server/engine/input', 'server/engine/store',
                            'server/engine/runtime', 'server/engine/adapt'],
    'server/engine/batching': ['server/common', 'server/engine/base', 'server/engine/runtime',
                               'server/engine/adapt', 'server/engine/model'],
    'server/engine': ['server/common', 'server/engine/base', 'server/engine/text',
                      'server/engine/input', 'server/engine/store', 'server/engine/runtime',
                      'server/engine/adapt', 'server/engine/model', 'server/engine/batching'],
    'server/service': ['server/common', 'server/engine', 'server/engine/base', 'server/engine/input',
                       'server/engine/store'],
}
# The engine's public face: no LibTorch behind these.
TORCH_FREE = ['server/engine/engine.h', 'server/engine_flags.h']
TORCH = re.compile(r'#include\s*[<"](torch/|ATen/|c10/)')
INCLUDE = re.compile(r'#include\s*"((?:server|client|train|tests)/[^"]+)"')


def project_includes(root, path):
    with open(os.path.join(root, path), encoding='utf-8') as f:
        return INCLUDE.findall(f.read())


def folder_of(path):
    folder = os.path.dirname(path)
    # server/engine/engine.h and engine_options.h form the folder's top level.
    return folder


def check_layers(root):
    bad = []
    for folder, allowed in ALLOWED.items():
        top = os.path.join(root, folder)
        for name in sorted(os.listdir(top)):
            if not name.endswith(('.h', '.cc')):
                continue
            path = f'{folder}/{name}'
            for inc in project_includes(root, path):
                target = folder_of(inc)
                if target != folder and target not in allowed:
                    bad.append(f'{path}: includes {inc}, above its layer')
    return bad


def check_torch_free(root):
    bad = []
    for header in TORCH_FREE:
        seen, todo = set(), [header]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            with open(os.path.join(root, path), encoding='utf-8') as f:
                text = f.read()
            if TORCH.search(text):
                bad.append(f'{header}: pulls in LibTorch through {path}')
            todo.extend(INCLUDE.findall(text))
    return bad


def self_test():
    with tempfile.TemporaryDirectory() as root:
        for folder in ALLOWED:
            os.makedirs(os.path.join(root, folder), exist_ok=True)
        files = {
            'server/common/clock.h': '#include "server/engine/engine.h"\n',
            'server/engine/engine.h': '#include "server/engine/base/types.h"\n',
            'server/engine/base/types.h': '#include <ATen/core/Tensor.h>\n',
            'server/engine_flags.h': '',
        }
        for path, text in files.items():
            with open(os.path.join(root, path), 'w', encoding='utf-8') as f:
                f.write(text)
        bad = check_layers(root) + check_torch_free(root)
    expected = ['server/common/clock.h: includes server/engine/engine.h, above its layer',
                'server/engine/engine.h: pulls in LibTorch through server/engine/base/types.h']
    if sorted(bad) != sorted(expected):
        print('self-test failed; got:', *bad, sep='\n  ')
        return 1
    print('self-test ok')
    return 0


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else '.'
    bad = check_layers(root) + check_torch_free(root)
    for line in bad:
        print(line)
    if bad:
        return 1
    print(f'layers ok: {len(ALLOWED)} folders; {len(TORCH_FREE)} headers free of LibTorch')
    return 0


if __name__ == '__main__':
    sys.exit(main())
