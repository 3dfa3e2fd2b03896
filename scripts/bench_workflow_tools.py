#!/usr/bin/env python3
"""Same-machine reference for `peftlab bench runner`: the same 70-stage shape
(6 roots, 60 one-root stages, 1 join of 60, 3 more) as a DVC pipeline and a
Snakefile; times a full run, a no-op rerun and a status query.

    python3 -m venv /tmp/wf && /tmp/wf/bin/pip install dvc snakemake
    /tmp/wf/bin/python scripts/bench_workflow_tools.py
"""
import os, shutil, subprocess, sys, tempfile, time

BIN = os.path.dirname(sys.executable)

def timed(cmd, cwd):
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t

def dvc(d):
    stages = {}
    for r in range(6):
        stages[f"root{r}"] = dict(cmd=f"mkdir -p out && echo {r} > out/root{r}", outs=[f"out/root{r}"])
    for j in range(60):
        r = j % 6
        stages[f"mid{j}"] = dict(cmd=f"cat out/root{r} > out/mid{j}; echo {j} >> out/mid{j}",
                                 deps=[f"out/root{r}"], outs=[f"out/mid{j}"])
    stages["join"] = dict(cmd="cat out/mid0 out/mid59 > out/join", deps=[f"out/mid{j}" for j in range(60)], outs=["out/join"])
    stages["report"] = dict(cmd="wc -l < out/join > out/report", deps=["out/join"], outs=["out/report"])
    stages["figure"] = dict(cmd="cat out/report > out/figure", deps=["out/report"], outs=["out/figure"])
    stages["publish"] = dict(cmd="cat out/figure > out/publish", deps=["out/figure", "out/join"], outs=["out/publish"])
    import yaml
    with open(os.path.join(d, "dvc.yaml"), "w") as f:
        yaml.safe_dump({"stages": stages}, f)
    subprocess.run([f"{BIN}/dvc", "init", "--no-scm", "-q"], cwd=d, check=True)
    return (timed([f"{BIN}/dvc", "repro", "-q"], d), timed([f"{BIN}/dvc", "repro", "-q"], d),
            timed([f"{BIN}/dvc", "status", "-q"], d))

def snakemake(d):
    rules = ["rule all:\n    input: 'out/publish'\n"]
    for r in range(6):
        rules.append(f"rule root{r}:\n    output: 'out/root{r}'\n    shell: 'echo {r} > {{output}}'\n")
    for j in range(60):
        rules.append(f"rule mid{j}:\n    input: 'out/root{j % 6}'\n    output: 'out/mid{j}'\n"
                     f"    shell: 'cat {{input}} > {{output}}; echo {j} >> {{output}}'\n")
    ins = ", ".join(f"'out/mid{j}'" for j in range(60))
    rules.append(f"rule join:\n    input: {ins}\n    output: 'out/join'\n    shell: 'cat out/mid0 out/mid59 > {{output}}'\n")
    rules.append("rule report:\n    input: 'out/join'\n    output: 'out/report'\n    shell: 'wc -l < {input} > {output}'\n")
    rules.append("rule figure:\n    input: 'out/report'\n    output: 'out/figure'\n    shell: 'cat {input} > {output}'\n")
    rules.append("rule publish:\n    input: 'out/figure', 'out/join'\n    output: 'out/publish'\n    shell: 'cat out/figure > {output}'\n")
    with open(os.path.join(d, "Snakefile"), "w") as f:
        f.write("\n".join(rules))
    sm = f"{BIN}/snakemake"
    return (timed([sm, "-c2", "-q"], d), timed([sm, "-c2", "-q"], d), timed([sm, "-n", "-q"], d))

for name, fn in [("DVC", dvc), ("Snakemake", snakemake)]:
    d = tempfile.mkdtemp()
    try:
        full, noop, status = fn(d)
        print(f"| {name} | {full:.2f} | {noop:.2f} | {status:.2f} |")
    finally:
        shutil.rmtree(d)
