"""Emulators of the clouds and archives that cannot run here, each following its documented contract, their data in the real Orthanc."""
