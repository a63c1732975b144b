#!/bin/sh
# runbook test lab: stand-in for Slackware's system initialization script.
