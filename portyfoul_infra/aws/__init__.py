"""The AWS mechanics: stacks, change sets, services, deployments, images, release history, one-off tasks.

What calls AWS takes a Ctx (clients, environment, console, clock, sleep, journal) or a client; nothing here
imports a verb, an artifact or the template code.
"""
