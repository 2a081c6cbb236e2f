"""Measurement models of the navigation filter: predicted value and Jacobian ``H`` (1×15 or 3×15).

Everything here uses the flight software's own knowledge: the nominal state, the estimated body
rate, the on-board gravity/rotation model and the **on-board** terrain map, never truth.

- Slant range along a beam: ray-cast on the on-board map, refined by one Newton step on the
  terrain's local tangent plane (so the prediction is smooth in the state), and corrected by the
  filter's terrain offset ``offset_m`` (true ground minus map height, see
  :mod:`gnc.navigation`). With ``n`` the terrain normal at the hit point, ``d`` the beam and
  ``cos ι = −n·d``::

      ∂ρ/∂δr = nᵀ / cos ι,     ∂ρ/∂δθ = ((ρ d + l_i) × n)ᵀ / cos ι,     ρ̇ = n·v_ground / cos ι

  where ``l_i`` is the sensor's lever arm and ``v_ground`` the mount point's velocity relative
  to the rotating ground.
  Over a horizontal uncertainty wide enough for the beam to meet a crest, :func:`linearise_range`
  replaces that local slope by a regression through unscented points and says how much of the
  range no line explains.
- Line-of-sight velocity along a beam (Doppler, positive when closing on the ground):
  ``v_ground · d``, ``∂/∂δv = dᵀ``, ``∂/∂δθ = (w × d + d × v_ground)ᵀ`` with ``w = C(ω × l)``.
- Star tracker attitude: the rotation vector of ``q_meas ⊗ q_nom*``, ``H = [0 0 I 0 0]``.
"""
import numpy as np
from numba import njit

from gnc.eskf import E_ATT, E_POS, E_VEL, ERROR_SIZE, POS, QUAT, VEL
from gnc.moon import rotation_angle_rad
from gnc.quaternion import mult_xyz, rotate_xyz
from gnc.terrain import clearance_xyz, height_unit_m, raycast_xyz

MIN_INCIDENCE_COS = 0.1
"""Beams meeting the ground more obliquely than this (84°) give no usable range prediction."""
NORMAL_BASELINE_M = 30.0
"""Half-width of the finite difference that gives the map's local normal (m)."""


@njit(cache=True, inline='always')
def _cross(ax, ay, az, bx, by, bz):
    return ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx


@njit(cache=True, inline='always')
def _north_east(ux, uy, uz):
    """Unit north and east vectors ``(nx, ny, nz, ex, ey, ez)`` at the unit vector ``u`` (east is
    +y at a pole)."""
    cos_lat = np.sqrt(ux * ux + uy * uy)
    co, so = (ux / cos_lat, uy / cos_lat) if cos_lat > 1e-12 else (1.0, 0.0)
    return -uz * co, -uz * so, cos_lat, -so, co, 0.0


@njit(cache=True, error_model='numpy')
def _map_gradient_mf(terrain, px, py, pz):
    """Gradient of the clearance function (height above the map) at Moon-fixed ``p``: central
    differences of the height over :data:`NORMAL_BASELINE_M` north and east along great
    circles, so the baseline is the same at every latitude, a pole included."""
    rho = np.sqrt(px * px + py * py + pz * pz)
    ux, uy, uz = px / rho, py / rho, pz / rho
    nx, ny, nz, ex, ey, ez = _north_east(ux, uy, uz)
    step = NORMAL_BASELINE_M / terrain.radius_m
    cs, ss = np.cos(step), np.sin(step)
    dh_north = (height_unit_m(terrain, cs * ux + ss * nx, cs * uy + ss * ny, cs * uz + ss * nz)
                - height_unit_m(terrain, cs * ux - ss * nx, cs * uy - ss * ny, cs * uz - ss * nz)
                ) / (2 * step)
    dh_east = (height_unit_m(terrain, cs * ux + ss * ex, cs * uy + ss * ey, cs * uz + ss * ez)
               - height_unit_m(terrain, cs * ux - ss * ex, cs * uy - ss * ey, cs * uz - ss * ez)
               ) / (2 * step)
    # ∇c = up − (∂h/∂north · north + ∂h/∂east · east) / ρ, the derivatives per radian of arc
    kn, ke = dh_north / rho, dh_east / rho
    return ux - kn * nx - ke * ex, uy - kn * ny - ke * ey, uz - kn * nz - ke * ez


@njit(cache=True, inline='always')
def _beam_inertial(x, pos_b, dir_b):
    """Lever arm ``l`` and beam direction ``d`` of a body-mounted sensor, inertial axes:
    ``(lx, ly, lz, dx, dy, dz)``."""
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    lx, ly, lz = rotate_xyz(qw, qx, qy, qz, pos_b[0], pos_b[1], pos_b[2])
    dx, dy, dz = rotate_xyz(qw, qx, qy, qz, dir_b[0], dir_b[1], dir_b[2])
    return lx, ly, lz, dx, dy, dz


@njit(cache=True, inline='always')
def _moon_rotation_cos_sin(moon, t_s):
    """``(cos a, sin a)`` of the Moon's rotation angle at ``t_s``: ``(c·x + s·y, −s·x + c·y)``
    turns inertial ``x, y`` into Moon-fixed."""
    a = rotation_angle_rad(moon, t_s)
    return np.cos(a), np.sin(a)


@njit(cache=True, error_model='numpy')
def _slant_range(terrain, omx, omy, oz, dmx, dmy, dz, max_range_m):
    """Range (m) from Moon-fixed ``o`` along unit ``d`` to the map: the ray cast refined by one
    Newton step on the tangent plane. Returns ``(ok, range_m, cos_incidence, gx, gy, gz, |g|)``,
    ``g`` the clearance gradient there; ``ok`` is false on a miss within ``max_range_m`` or an
    incidence beyond :data:`MIN_INCIDENCE_COS`."""
    hit, rho = raycast_xyz(terrain, omx, omy, oz, dmx, dmy, dz, max_range_m)
    if not hit:
        return False, np.nan, 0.0, 0.0, 0.0, 0.0, 0.0
    px, py, pz = omx + rho * dmx, omy + rho * dmy, oz + rho * dz
    gx, gy, gz = _map_gradient_mf(terrain, px, py, pz)
    g_dot_d = gx * dmx + gy * dmy + gz * dz
    if g_dot_d < -1e-3:                              # one Newton step onto the tangent plane
        rho -= clearance_xyz(terrain, px, py, pz) / g_dot_d
    g_norm = np.sqrt(gx * gx + gy * gy + gz * gz)
    cos_inc = -g_dot_d / g_norm
    return cos_inc >= MIN_INCIDENCE_COS, rho, cos_inc, gx, gy, gz, g_norm


@njit(cache=True, error_model='numpy')
def predict_range(terrain, moon, t_s, x, omega_b, pos_b, dir_b, max_range_m, offset_m, h):
    """Predicted slant range along body direction ``dir_b`` from lever arm ``pos_b``.

    Writes ``∂ρ/∂δx`` into ``h`` (length 15). Returns ``(ok, range_m, range_rate_m_s,
    cos_incidence, footprint_m)``, the last the horizontal distance from the sensor to the
    point the beam hits; ``ok`` is false when the beam misses the map within ``max_range_m`` or
    meets it more obliquely than :data:`MIN_INCIDENCE_COS`.
    """
    lx, ly, lz, dx, dy, dz = _beam_inertial(x, pos_b, dir_b)
    ox, oy, oz = x[POS] + lx, x[POS + 1] + ly, x[POS + 2] + lz
    c, s = _moon_rotation_cos_sin(moon, t_s)
    omx, omy = c * ox + s * oy, -s * ox + c * oy
    dmx, dmy = c * dx + s * dy, -s * dx + c * dy
    ok, rho, cos_inc, gx, gy, gz, g_norm = _slant_range(terrain, omx, omy, oz, dmx, dmy, dz,
                                                        max_range_m)
    if not ok:
        return False, np.nan, np.nan, cos_inc, 0.0
    rho -= offset_m / cos_inc
    # normal back to inertial axes
    nx, ny, nz = (c * gx - s * gy) / g_norm, (s * gx + c * gy) / g_norm, gz / g_norm
    for i in range(ERROR_SIZE):
        h[i] = 0.0
    h[E_POS], h[E_POS + 1], h[E_POS + 2] = nx / cos_inc, ny / cos_inc, nz / cos_inc
    ax, ay, az = _cross(rho * dx + lx, rho * dy + ly, rho * dz + lz, nx, ny, nz)
    h[E_ATT], h[E_ATT + 1], h[E_ATT + 2] = ax / cos_inc, ay / cos_inc, az / cos_inc
    vx, vy, vz = _ground_velocity(moon, x, omega_b, pos_b, lx, ly, lz)
    r = np.sqrt(ox * ox + oy * oy + oz * oz)
    d_up = (dx * ox + dy * oy + dz * oz) / r
    footprint_m = rho * np.sqrt(max(1.0 - d_up * d_up, 0.0))
    return True, rho, (nx * vx + ny * vy + nz * vz) / cos_inc, cos_inc, footprint_m


@njit(cache=True, error_model='numpy')
def footprint_mf(moon, t_s, x, pos_b, dir_b, range_m):
    """Moon-fixed ``(x, y, z)`` (m) of where a beam of ``range_m`` along body direction
    ``dir_b`` from lever arm ``pos_b`` meets the ground."""
    lx, ly, lz, dx, dy, dz = _beam_inertial(x, pos_b, dir_b)
    c, s = _moon_rotation_cos_sin(moon, t_s)
    ox = x[POS] + lx + range_m * dx
    oy = x[POS + 1] + ly + range_m * dy
    oz = x[POS + 2] + lz + range_m * dz
    return c * ox + s * oy, -s * ox + c * oy, oz


@njit(cache=True, error_model='numpy')
def map_roughness_m2(terrain, px, py, pz, radius_m):
    """Variance (m²) of the map's height about its linear trend within ``radius_m`` of the
    Moon-fixed footprint ``p`` (:func:`footprint_mf`): the mean square of the even part
    ``(h(p+δ) + h(p−δ))/2 − h(p)`` over four great-circle diameters. A slope is linear and
    cancels; a crater wall within the horizontal uncertainty is what a range's linearised
    prediction cannot know."""
    rho = np.sqrt(px * px + py * py + pz * pz)
    ux, uy, uz = px / rho, py / rho, pz / rho
    nx, ny, nz, ex, ey, ez = _north_east(ux, uy, uz)
    h0 = height_unit_m(terrain, ux, uy, uz)
    angle = radius_m / terrain.radius_m
    ca, sa = np.cos(angle), np.sin(angle)
    total = 0.0
    for k in range(4):
        az = 0.25 * np.pi * k
        tx = sa * (np.cos(az) * nx + np.sin(az) * ex)
        ty = sa * (np.cos(az) * ny + np.sin(az) * ey)
        tz = sa * (np.cos(az) * nz + np.sin(az) * ez)
        even = 0.5 * (height_unit_m(terrain, ca * ux + tx, ca * uy + ty, ca * uz + tz)
                      + height_unit_m(terrain, ca * ux - tx, ca * uy - ty, ca * uz - tz)) - h0
        total += even * even
    return 0.25 * total


SIGMA_POINT_SPREAD = 3.0
"""Unscented points at ±3 columns of the position covariance's Cholesky factor in the local
(up, east, north) axes (κ = 6 for n = 3: weight 1/18 each, 2/3 on the estimate), so the range's
linearity is tried wherever the truth is, 99.7 % of the time per axis. The factor is unique and
smooth in the covariance (a principal-axis root turns freely when the horizontal σ are equal),
and up first keeps the vertical point apart from the horizontal plane. For a quadratic the mean
comes out exact and the variance four times too large: the doubt errs on the safe side (κ = 0,
±√3σ, misses a crest at 2σ)."""


@njit(cache=True, error_model='numpy')
def _local_frame(x):
    """3×3 matrix whose columns are the local up, east and north at the estimate (inertial)."""
    r = np.sqrt(x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2)
    ux, uy, uz = x[POS] / r, x[POS + 1] / r, x[POS + 2] / r
    nx, ny, nz, ex, ey, ez = _north_east(ux, uy, uz)
    frame = np.empty((3, 3))
    frame[0, 0], frame[1, 0], frame[2, 0] = ux, uy, uz
    frame[0, 1], frame[1, 1], frame[2, 1] = ex, ey, ez
    frame[0, 2], frame[1, 2], frame[2, 2] = nx, ny, nz
    return frame


@njit(cache=True, error_model='numpy')
def linearise_range(terrain, moon, t_s, x, P, pos_b, dir_b, max_range_m, centre_range_m, h):
    """Statistical linearisation of a slant range over the position's uncertainty.

    The beam is cast from unscented points about the estimate (:data:`SIGMA_POINT_SPREAD`),
    as a grazing beam a few hundred metres over meets a crest or the floor beyond it,
    kilometres from where the local slope predicts; ``centre_range_m`` is the map's range at the
    estimate (:func:`predict_range`'s before the terrain offset). Replaces the position part
    of ``h`` by the regression slope through the points and returns ``(mean_shift_m,
    residual_m2)``: their weighted mean range minus the range at the estimate, and the
    variance the slope leaves unexplained, which belongs in the measurement noise.
    ``(0, max_range_m²)`` when a point's beam misses the map: no linear model holds there.
    ``(0, 0)``, ``h`` untouched, when 3σ of the position lies within
    :data:`NORMAL_BASELINE_M`: the map's normal behind ``h`` was measured over that distance
    already.
    """
    block = np.ascontiguousarray(P[E_POS:E_POS + 3, E_POS:E_POS + 3])
    spread_m2 = SIGMA_POINT_SPREAD ** 2 * (block[0, 0] + block[1, 1] + block[2, 2])
    if spread_m2 <= NORMAL_BASELINE_M ** 2:
        return 0.0, 0.0                      # inside the baseline of the map's normal: h holds
    lx, ly, lz, dx, dy, dz = _beam_inertial(x, pos_b, dir_b)
    c, s = _moon_rotation_cos_sin(moon, t_s)
    ox, oy, oz = x[POS] + lx, x[POS + 1] + ly, x[POS + 2] + lz
    omx, omy, dmx, dmy = c * ox + s * oy, -s * ox + c * oy, c * dx + s * dy, -s * dx + c * dy
    frame = _local_frame(x)
    root = np.linalg.cholesky(frame.T @ block @ frame)
    offsets = frame @ root                   # columns: vertical, then the horizontal plane
    weight = 0.5 / (SIGMA_POINT_SPREAD * SIGMA_POINT_SPREAD)
    ranges = np.empty(6)
    half_difference = np.empty(3)
    for k in range(3):
        sx = SIGMA_POINT_SPREAD * offsets[0, k]      # the point's offset, inertial
        sy = SIGMA_POINT_SPREAD * offsets[1, k]
        sz = SIGMA_POINT_SPREAD * offsets[2, k]
        smx, smy = c * sx + s * sy, -s * sx + c * sy
        for j in range(2):
            sign = 2.0 * j - 1.0
            ok, ranges[2 * k + j], _, _, _, _, _ = _slant_range(
                terrain, omx + sign * smx, omy + sign * smy, oz + sign * sz, dmx, dmy, dz,
                max_range_m)
            if not ok:
                return 0.0, max_range_m * max_range_m
        half_difference[k] = (ranges[2 * k + 1] - ranges[2 * k]) / (2.0 * SIGMA_POINT_SPREAD)
    # regression slope P⁻¹ P_xρ = F L⁻ᵀ g (g the half differences): back-substitute Lᵀ u = g
    u = np.empty(3)
    for i in range(2, -1, -1):
        value = half_difference[i]
        for j in range(i + 1, 3):
            value -= root[j, i] * u[j]
        u[i] = value / root[i, i]
    for i in range(3):
        h[E_POS + i] = frame[i, 0] * u[0] + frame[i, 1] * u[1] + frame[i, 2] * u[2]
    mean = (1.0 - 6.0 * weight) * centre_range_m
    for i in range(6):
        mean += weight * ranges[i]
    total = (1.0 - 6.0 * weight) * (centre_range_m - mean) ** 2
    for i in range(6):
        total += weight * (ranges[i] - mean) ** 2
    explained = half_difference[0] ** 2 + half_difference[1] ** 2 + half_difference[2] ** 2
    return mean - centre_range_m, max(total - explained, 0.0)


@njit(cache=True, inline='always')
def _lever_velocity(x, omega_b, pos_b):
    """``C (ω × l)``: velocity of the mount point relative to the centre of mass, inertial."""
    ex, ey, ez = _cross(omega_b[0], omega_b[1], omega_b[2], pos_b[0], pos_b[1], pos_b[2])
    return rotate_xyz(x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3], ex, ey, ez)


@njit(cache=True, inline='always')
def _ground_velocity(moon, x, omega_b, pos_b, lx, ly, lz):
    """Velocity of the mount point relative to the rotating ground, inertial axes."""
    wx, wy, wz = _lever_velocity(x, omega_b, pos_b)
    om = moon.rotation_rate_rad_s
    px, py = x[POS] + lx, x[POS + 1] + ly
    return x[VEL] + wx + om * py, x[VEL + 1] + wy - om * px, x[VEL + 2] + wz


@njit(cache=True, error_model='numpy')
def predict_los_velocity(moon, x, omega_b, pos_b, dir_b, h):
    """Predicted closing velocity (m/s) along body direction ``dir_b``; ``∂/∂δx`` into ``h``."""
    lx, ly, lz, dx, dy, dz = _beam_inertial(x, pos_b, dir_b)
    vx, vy, vz = _ground_velocity(moon, x, omega_b, pos_b, lx, ly, lz)
    wx, wy, wz = _lever_velocity(x, omega_b, pos_b)
    for i in range(ERROR_SIZE):
        h[i] = 0.0
    om = moon.rotation_rate_rad_s
    # −(Ω × δr)·d = −δr·(d × Ω), Ω = (0, 0, om)
    h[E_POS], h[E_POS + 1] = -dy * om, dx * om
    h[E_VEL], h[E_VEL + 1], h[E_VEL + 2] = dx, dy, dz
    ax, ay, az = _cross(wx, wy, wz, dx, dy, dz)
    bx, by, bz = _cross(dx, dy, dz, vx, vy, vz)
    h[E_ATT], h[E_ATT + 1], h[E_ATT + 2] = ax + bx, ay + by, az + bz
    return vx * dx + vy * dy + vz * dz


@njit(cache=True, error_model='numpy')
def attitude_innovation(x, q_meas, y):
    """Rotation vector (rad, inertial) of ``q_meas ⊗ q_nom*`` into ``y``; returns its angle."""
    w, a, b, c = mult_xyz(q_meas[0], q_meas[1], q_meas[2], q_meas[3],
                          x[QUAT], -x[QUAT + 1], -x[QUAT + 2], -x[QUAT + 3])
    if w < 0.0:
        w, a, b, c = -w, -a, -b, -c
    vnorm = np.sqrt(a * a + b * b + c * c)
    angle = 2.0 * np.arctan2(vnorm, w)
    k = 2.0 / w if vnorm < 1e-12 else angle / vnorm
    y[0], y[1], y[2] = a * k, b * k, c * k
    return angle


@njit(cache=True)
def star_tracker_model(x, noise_rad, H, R):
    """``H = [0 0 I 0 0]`` (3×15) and ``R = C diag(σ²) Cᵀ`` for body-axis noise ``noise_rad``."""
    for k in range(3):
        for j in range(ERROR_SIZE):
            H[k, j] = 0.0
        H[k, E_ATT + k] = 1.0
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    cols = (rotate_xyz(qw, qx, qy, qz, 1.0, 0.0, 0.0), rotate_xyz(qw, qx, qy, qz, 0.0, 1.0, 0.0),
            rotate_xyz(qw, qx, qy, qz, 0.0, 0.0, 1.0))
    for k in range(3):
        for l in range(3):
            s = 0.0
            for m in range(3):
                s += cols[m][k] * noise_rad[m] ** 2 * cols[m][l]
            R[k, l] = s
