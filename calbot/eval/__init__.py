"""The evaluation harness (issue 20): scheduling dialogues graded by the final calendar state, reported as pass^k.

This step holds the grader only (calbot/eval/grading.py); the scenarios, the simulated user and the command
(`python -m calbot.eval`) come next.
"""
