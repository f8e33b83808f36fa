"""The embedded household simulator: generated homes, a robot with a camera, skills, people."""
