"""PyTorch reference trajectories for Gauntlet's optimizers, clipping and lr schedules (dev tool).

Writes test/fixtures/train/torch-optim.json:
  optim:     per case, torch.optim.SGD / AdamW run for 5 steps on two float32 tensors with fixed
             seeded gradients (and optionally clip_grad_norm_ before each step); the initial
             params, the gradients, and the params after every step.
  schedules: per case, the lr (and momentum, for OneCycleLR) torch's schedulers give each step.

Run: /usr/bin/python3 scripts/make_train_fixtures.py  (torch 1.13, CPU)
"""
import json
import math
import os

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'train', 'torch-optim.json')
STEPS = 5


def optim_case(name, make, clip=None):
    g = torch.Generator().manual_seed(7)
    p = [torch.randn(6, generator=g), torch.randn(2, 3, generator=g)]
    params = [torch.nn.Parameter(t.clone()) for t in p]
    opt = make(params)
    grads, after = [], []
    for _ in range(STEPS):
        gs = [torch.randn(t.shape, generator=g) * 3 for t in p]
        grads.append([x.flatten().tolist() for x in gs])
        for prm, gr in zip(params, gs):
            prm.grad = gr.clone()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        after.append([prm.detach().flatten().tolist() for prm in params])
    return {'name': name, 'clip': clip, 'init': [t.flatten().tolist() for t in p], 'grads': grads, 'after': after}


def sched_case(name, make, epochs=3, steps_per_epoch=4, per_epoch=False):
    prm = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD(prm, lr=0.1, momentum=0.9)
    sched = make(opt, epochs, steps_per_epoch)
    lrs, moms = [], []
    for e in range(epochs):
        for s in range(steps_per_epoch):
            lrs.append(opt.param_groups[0]['lr'])
            moms.append(opt.param_groups[0]['momentum'])
            opt.step()
            if not per_epoch:
                sched.step()
        if per_epoch:
            sched.step()
    return {'name': name, 'epochs': epochs, 'steps_per_epoch': steps_per_epoch, 'lr': lrs, 'momentum': moms}


def main():
    optim = [
        optim_case('sgd', lambda p: torch.optim.SGD(p, lr=0.1)),
        optim_case('sgd_momentum', lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        optim_case('sgd_nesterov_wd', lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
        optim_case('sgd_momentum_clip', lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), clip=1.0),
        optim_case('adamw', lambda p: torch.optim.AdamW(p, lr=0.01)),
        optim_case('adamw_betas_wd', lambda p: torch.optim.AdamW(p, lr=0.003, betas=(0.8, 0.99), weight_decay=0.1, eps=1e-6)),
        optim_case('adamw_clip', lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0), clip=2.0),
    ]
    L = torch.optim.lr_scheduler
    schedules = [
        sched_case('constant', lambda o, e, s: L.LambdaLR(o, lambda _: 1.0)),
        sched_case('step_every2_gamma0.5', lambda o, e, s: L.StepLR(o, step_size=2, gamma=0.5), epochs=5, per_epoch=True),
        sched_case('cosine', lambda o, e, s: L.CosineAnnealingLR(o, T_max=e * s)),
        sched_case('onecycle_max0.3', lambda o, e, s: L.OneCycleLR(o, max_lr=0.3, epochs=e, steps_per_epoch=s)),
        sched_case('cosine_warmup1', lambda o, e, s: L.ChainedScheduler([
            L.LinearLR(o, start_factor=1 / s, end_factor=1.0, total_iters=s), L.CosineAnnealingLR(o, T_max=e * s)])),
        sched_case('constant_warmup2', lambda o, e, s: L.LinearLR(o, start_factor=1 / (2 * s), end_factor=1.0, total_iters=2 * s)),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump({'torch': torch.__version__, 'optim': optim, 'schedules': schedules}, f, indent=1)
        f.write('\n')
    print('wrote', OUT)


if __name__ == '__main__':
    main()
