"""The evaluation harness (issue 20): scheduling dialogues graded by the final calendar state, reported as pass^k.

    python -m calbot.eval --scripted                       # the project's scripted model: must score 100%
    python -m calbot.eval --base-url URL --model NAME --k 4 --json eval.json --png eval.png

- scenario.py: what a scenario is (data); scenarios_book.py, scenarios_change.py: the scenarios; catalog.py: all;
- runner.py: one try (a fresh sandbox calendar, calbot's ChatService, the user's turns, the grade);
- grading.py: the grade (end state and Cal.com requests) and tau-bench's pass^k;
- scripted.py: the scripted assistant of --scripted and its deliberately broken variants;
- user_sim.py: --user-model, an LLM playing the user from the scenario's goal;
- metering.py: model calls and tokens; report.py: table, JSON, PNG, progress; __main__.py: the command.

Baseline (41 scenarios, k=4): the scripted model passes all, pass^1..4 = 1.0 (164 dialogues in about 3 s); its
deliberately broken variants score pass^1 0.366 (utc-times: local times converted to UTC) and 0.951 (first-match:
acts on the first meeting listed). tests/eval/test_harness.py runs the scripted model with k=1 as the CI check.
"""
