"""The AWS mechanics: stacks, change sets, services, deployments, images, release history, one-off tasks.

Every function takes a Ctx (clients, environment, console, clock, sleep, journal) and the core; nothing here
imports a verb, an artifact or the template code.
"""
