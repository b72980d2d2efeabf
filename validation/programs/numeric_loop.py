"""Pure-Python particle simulation with a bit of linear algebra on lists.

A scientific-scripting style program: N particles in a 2-D box interact
through a soft Lennard-Jones-like pair force with a cut-off, found through a
cell list rebuilt every step.  Integration is velocity Verlet with a simple
Vec2 class and (x, y) tuples; after each block of steps the script records
observables (kinetic/potential energy, momentum, a radial distribution
histogram) into lists that grow for the whole run, and every few blocks it
fits a small least-squares model to the energy history by building the
normal equations as lists of lists and solving them with Gaussian
elimination.
"""

import math
import random
import sys

SEED = 12345
N_PARTICLES = 260
BOX = 26.0
CUTOFF = 2.5
DT = 0.004
STEPS = 420
BLOCK = 10
RDF_BINS = 50


class Vec2(object):
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, o):
        return Vec2(self.x + o.x, self.y + o.y)

    def __sub__(self, o):
        return Vec2(self.x - o.x, self.y - o.y)

    def __mul__(self, k):
        return Vec2(self.x * k, self.y * k)

    __rmul__ = __mul__

    def norm2(self):
        return self.x * self.x + self.y * self.y

    def as_tuple(self):
        return (self.x, self.y)


class Particle(object):
    __slots__ = ("pos", "vel", "acc", "mass", "kind")

    def __init__(self, pos, vel, mass, kind):
        self.pos = pos
        self.vel = vel
        self.acc = Vec2(0.0, 0.0)
        self.mass = mass
        self.kind = kind


def wrap(v):
    return Vec2(v.x % BOX, v.y % BOX)


def minimum_image(dx, dy):
    half = BOX / 2
    if dx > half:
        dx -= BOX
    elif dx < -half:
        dx += BOX
    if dy > half:
        dy -= BOX
    elif dy < -half:
        dy += BOX
    return dx, dy


def build_cells(particles):
    ncell = int(BOX // CUTOFF)
    size = BOX / ncell
    cells = {}
    for i, p in enumerate(particles):
        key = (int(p.pos.x / size) % ncell, int(p.pos.y / size) % ncell)
        cells.setdefault(key, []).append(i)
    return cells, ncell


def neighbour_pairs(particles):
    cells, ncell = build_cells(particles)
    pairs = []
    for (cx, cy), members in cells.items():
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                other = cells.get(((cx + dx) % ncell, (cy + dy) % ncell))
                if not other:
                    continue
                for i in members:
                    for j in other:
                        if i < j:
                            pairs.append((i, j))
    return pairs


def compute_forces(particles, pairs):
    acc = [[0.0, 0.0] for _ in particles]
    potential = 0.0
    rc2 = CUTOFF * CUTOFF
    seen = set()
    for i, j in pairs:
        if (i, j) in seen:
            continue
        seen.add((i, j))
        pi, pj = particles[i], particles[j]
        dx, dy = minimum_image(pi.pos.x - pj.pos.x, pi.pos.y - pj.pos.y)
        r2 = dx * dx + dy * dy
        if r2 >= rc2 or r2 == 0.0:
            continue
        r2 = max(r2, 0.64)
        inv6 = 1.0 / (r2 * r2 * r2)
        f = 24.0 * inv6 * (2.0 * inv6 - 1.0) / r2
        potential += 4.0 * inv6 * (inv6 - 1.0)
        fx, fy = f * dx, f * dy
        acc[i][0] += fx / pi.mass
        acc[i][1] += fy / pi.mass
        acc[j][0] -= fx / pj.mass
        acc[j][1] -= fy / pj.mass
    for p, (ax, ay) in zip(particles, acc):
        p.acc = Vec2(ax, ay)
    return potential


def kinetic(particles):
    return sum(0.5 * p.mass * p.vel.norm2() for p in particles)


def rdf(particles, bins):
    hist = [0] * bins
    rmax = BOX / 2
    width = rmax / bins
    positions = [p.pos.as_tuple() for p in particles]
    for i in range(len(positions)):
        xi, yi = positions[i]
        for j in range(i + 1, len(positions)):
            dx, dy = minimum_image(xi - positions[j][0], yi - positions[j][1])
            r = math.sqrt(dx * dx + dy * dy)
            if r < rmax:
                hist[int(r / width)] += 1
    return hist


def solve(a, b):
    """Gaussian elimination with partial pivoting on lists of lists."""
    n = len(a)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[piv] = m[piv], m[col]
        if abs(m[col][col]) < 1e-300:
            continue
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        s = m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))
        x[r] = s / m[r][r] if m[r][r] else 0.0
    return x


def polyfit(ts, ys, degree):
    """Least squares via normal equations (X^T X) c = X^T y."""
    rows = [[t ** k for k in range(degree + 1)] for t in ts]
    xtx = [[sum(r[i] * r[j] for r in rows) for j in range(degree + 1)]
           for i in range(degree + 1)]
    xty = [sum(r[i] * y for r, y in zip(rows, ys)) for i in range(degree + 1)]
    return solve(xtx, xty)


def main():
    rng = random.Random(SEED)
    particles = []
    side = int(math.ceil(math.sqrt(N_PARTICLES)))
    spacing = BOX / side
    for k in range(N_PARTICLES):
        gx, gy = k % side, k // side
        pos = Vec2((gx + 0.5) * spacing + rng.uniform(-0.1, 0.1),
                   (gy + 0.5) * spacing + rng.uniform(-0.1, 0.1))
        vel = Vec2(rng.gauss(0, 1.0), rng.gauss(0, 1.0))
        particles.append(Particle(pos, vel, rng.choice((1.0, 1.0, 2.0)), k % 3))

    energy_history = []     # (t, kinetic, potential, total)
    momentum_history = []
    rdf_accum = [0] * RDF_BINS
    fits = []
    pairs = neighbour_pairs(particles)
    pot = compute_forces(particles, pairs)
    for step in range(1, STEPS + 1):
        half = DT * 0.5
        for p in particles:
            p.vel = p.vel + p.acc * half
            p.pos = wrap(p.pos + p.vel * DT)
        pairs = neighbour_pairs(particles)
        pot = compute_forces(particles, pairs)
        for p in particles:
            p.vel = p.vel + p.acc * half
        kin = kinetic(particles)
        energy_history.append((step * DT, kin, pot, kin + pot))
        px = sum(p.mass * p.vel.x for p in particles)
        py = sum(p.mass * p.vel.y for p in particles)
        momentum_history.append((px, py))
        if step % BLOCK == 0:
            hist = rdf(particles, RDF_BINS)
            rdf_accum = [a + h for a, h in zip(rdf_accum, hist)]
            if step % (BLOCK * 3) == 0:
                ts = [e[0] for e in energy_history]
                fits.append(polyfit(ts, [e[3] for e in energy_history], 3))

    e0, e1 = energy_history[0][3], energy_history[-1][3]
    peak = max(range(RDF_BINS), key=lambda i: rdf_accum[i])
    print("steps=%d particles=%d E0=%.6f E1=%.6f drift=%.3e rdf_peak_bin=%d fits=%d"
          % (STEPS, N_PARTICLES, e0, e1, (e1 - e0) / abs(e0), peak, len(fits)))
    print("fit", " ".join("%.5g" % c for c in fits[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
