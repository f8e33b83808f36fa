"""Prompt tokens of the task-relevant subgraph against the whole graph, on a ~300-object home.

The home and its tasks come from benchmarks/synthetic.py; every task knows the object ids it
needs (the named objects and what they are in or on). For each task the benchmark builds the
subgraph prompt (scene_graph.serialize.task_subgraph) and counts its tokens, and checks that each
needed id appears in it. The baseline is the whole graph in the same line format, as a
KARMA-style planner would get it. Tokens are counted by scene_graph.tokens (SmolLM2's BPE tokenizer
unless a model's own is loaded); the result names the tokenizer.

    python -m benchmarks.tokens [--quick]
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks.synthetic import synthetic_home
from scene_graph.serialize import task_subgraph, whole_graph_text
from scene_graph.tokens import count_tokens, token_counter

GOAL_RATIO = 0.2


def run(quick: bool = False) -> dict[str, Any]:
    graph, tasks = synthetic_home(n_objects=120 if quick else 300, seed=0)
    whole = count_tokens(whole_graph_text(graph))
    per_task = []
    needed = found = 0
    for task in tasks:
        prompt = task_subgraph(graph, task.instruction, budget_tokens=4000)
        hit = sum(1 for i in task.needed if i in prompt.object_ids)
        needed += len(task.needed)
        found += hit
        per_task.append({"instruction": task.instruction, "tokens": prompt.tokens, "objects": len(prompt.object_ids),
                         "needed": len(task.needed), "needed_found": hit, "truncated": prompt.truncated})
    mean_sub = sum(t["tokens"] for t in per_task) / len(per_task)
    ratio = mean_sub / whole
    recall = found / needed if needed else 1.0
    return {
        "objects": len(graph),
        "tasks": len(tasks),
        "whole_graph_tokens": whole,
        "subgraph_tokens": round(mean_sub, 1),
        "ratio": round(ratio, 4),
        "needed_objects_recall": recall,
        "goal": {"ratio_max": GOAL_RATIO, "needed_objects_recall": 1.0},
        "meets_goal": ratio <= GOAL_RATIO and recall == 1.0,
        "per_task": per_task,
        "tokenizer": token_counter().name,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
