"""The navigation filter written plainly with filterpy and numpy: the compiled filter's oracle.

:class:`ReferenceFilter` restates :mod:`gnc.navigation` in plain numpy: strapdown with
scipy rotations, a dense transition matrix ``Φ = I + FΔt + (FΔt)²/2``, and filterpy's
``KalmanFilter.predict``/``update`` (Joseph form) on the error state. It shares with the
compiled filter only what is on-board data rather than filter logic: the gravity model, the
terrain map (ray cast and heights) and the plausibility check functions. It is also the place
to prototype a new filter: change it here, replay a log (:func:`reference_replay`), then port.
"""
import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.spatial.transform import Rotation

from gnc.eskf import ERROR_SIZE
from gnc.measurements import (MIN_INCIDENCE_COS, NORMAL_BASELINE_M, SIGMA_POINT_SPREAD,
                              footprint_mf, map_roughness_m2)
from gnc.moon import gravity_i, rotation_angle_rad
from gnc.navigation import (CHANNELS, MAX_BEAMS, MIN_OPENING_SLOPE, PATCH_SHARE_MAX, RANGEFINDER,
                            STAR_TRACKER, VELOCIMETER_RANGE, VELOCIMETER_VELOCITY)
from gnc.plausibility import (CONTEXT_SIZE, CTX_COS_INCIDENCE, CTX_DOF, CTX_INNOVATION,
                              CTX_MAX_VALID, CTX_MEASURED, CTX_MIN_VALID, CTX_NIS,
                              CTX_NOISE_VARIANCE, CTX_PREDICTED,
                              CTX_RATE_PREDICTED, CTX_T_S, CTX_VARIANCE, NO_PREDICTION, REANCHOR,
                              STATE_SIZE, accepted)
from gnc.terrain import clearance_xyz, height_m, raycast


def _skew(v):
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def _rotation(q):
    """scipy Rotation of a scalar-first quaternion."""
    return Rotation.from_quat([q[1], q[2], q[3], q[0]])


def _quat(rot):
    x, y, z, w = rot.as_quat()
    return np.array([w, x, y, z])


def _rz(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class ReferenceFilter:
    """Error-state Kalman filter on filterpy's :class:`~filterpy.kalman.KalmanFilter`.

    Parameters
    ----------
    cfg : NavConfig
        The same configuration the compiled filter flies.
    x0, P0 : arrays
        Initial nominal state (16) and covariance (15×15).
    t0_s : float
    terrain : Terrain
        The on-board map.
    """

    def __init__(self, cfg, x0, P0, t0_s, terrain):
        self.cfg, self.terrain = cfg, terrain
        self.kf = KalmanFilter(dim_x=ERROR_SIZE, dim_z=1)
        self.kf.P = np.array(P0, dtype=float)
        self.r, self.v = np.array(x0[0:3], float), np.array(x0[3:6], float)
        self.rot = _rotation(x0[6:10])
        self.ba, self.bg = np.array(x0[10:13], float), np.array(x0[13:16], float)
        self.t = float(t0_s)
        self.omega = np.zeros(3)
        self.offset, self.offset_var, self.distance = 0.0, 0.0, 0.0
        self.pending_s, self.pending_steps, self.dv_i = 0.0, 0, np.zeros(3)
        self.check_state = np.zeros((len(CHANNELS), MAX_BEAMS, STATE_SIZE))
        self.footprints = {}      # (channel, beam) -> last footprint, Moon-fixed (patch share)
        self.decisions = []

    @property
    def x(self):
        """Nominal state in the compiled filter's layout."""
        return np.concatenate([self.r, self.v, _quat(self.rot), self.ba, self.bg])

    # -- propagation ------------------------------------------------------------------------
    def propagate(self, dtheta_b, dv_b):
        """Strapdown over one IMU interval; covariance every ``cfg.cov_every`` steps."""
        dt = self.cfg.imu_dt_s
        theta = np.asarray(dtheta_b) - self.bg * dt
        dv = np.asarray(dv_b) - self.ba * dt
        dv_i = self.rot.apply(dv + 0.5 * np.cross(theta, dv))
        g = gravity_i(self.cfg.moon, self.r + 0.5 * dt * self.v)
        v_new = self.v + dv_i + g * dt
        self.r = self.r + 0.5 * dt * (self.v + v_new)
        self.v = v_new
        self.rot = self.rot * Rotation.from_rotvec(theta)
        self.t += dt
        self.omega = np.asarray(dtheta_b) / dt - self.bg
        self.dv_i += dv_i
        self.pending_s += dt
        self.pending_steps += 1
        om = self.cfg.moon.rotation_rate_rad_s
        v_ground = self.v + np.cross([0.0, 0.0, -om], self.r)
        up = self.r / np.linalg.norm(self.r)
        self.distance += dt * np.linalg.norm(v_ground - up * np.dot(v_ground, up))
        if self.pending_steps >= self.cfg.cov_every:
            self.flush()

    def flush(self):
        """Propagate the covariance over the pending interval with filterpy's ``predict``."""
        dt = self.pending_s
        if dt <= 0.0:
            return
        a_i = self.dv_i / dt
        C = self.rot.as_matrix()
        r = np.linalg.norm(self.r)
        G = self.cfg.moon.mu_m3_s2 / r ** 3 * (3.0 * np.outer(self.r, self.r) / r ** 2 - np.eye(3))
        F = np.zeros((ERROR_SIZE, ERROR_SIZE))
        F[0:3, 3:6] = np.eye(3)
        F[3:6, 0:3] = G
        F[3:6, 6:9] = -_skew(a_i)
        F[3:6, 9:12] = -C
        F[6:9, 12:15] = -C
        Fdt = F * dt
        phi = np.eye(ERROR_SIZE) + Fdt + Fdt @ Fdt / 2.0
        n = self.cfg.noise
        qa, qg = n.accel_noise_density ** 2, n.gyro_noise_density ** 2
        Q = np.zeros((ERROR_SIZE, ERROR_SIZE))
        Q[0:3, 0:3] = np.eye(3) * qa * dt ** 3 / 3.0
        Q[0:3, 3:6] = Q[3:6, 0:3] = np.eye(3) * qa * dt ** 2 / 2.0
        Q[3:6, 3:6] = np.eye(3) * qa * dt
        Q[6:9, 6:9] = np.eye(3) * qg * dt
        Q[9:12, 9:12] = np.eye(3) * n.accel_bias_walk ** 2 * dt
        Q[12:15, 12:15] = np.eye(3) * n.gyro_bias_walk ** 2 * dt
        self.kf.x = np.zeros((ERROR_SIZE, 1))
        self.kf.predict(F=phi, Q=Q)
        self.kf.P = 0.5 * (self.kf.P + self.kf.P.T)
        self.pending_s, self.pending_steps, self.dv_i = 0.0, 0, np.zeros(3)

    # -- updates --------------------------------------------------------------------------------
    def _update(self, channel, beam, H, R, y, measured, predicted, noise_variance, rate, lo, hi,
                h_offset=0.0, angle=None, slope_across=None):
        """One update; ``slope_across`` (a range only) is the horizontal part of ``H``'s position
        row to leave out, correcting the vertical channel alone (None: keep the map's slope)."""
        P = self.kf.P
        m = H.shape[0]
        map_variance = h_offset ** 2 * self.offset_var
        R = R + map_variance * np.eye(m)
        if slope_across is not None:
            H, R = self._leave_out_slope(H, R, slope_across)
        S = H @ P @ H.T + R
        nis = float(y @ np.linalg.solve(S, y))
        ctx = np.zeros(CONTEXT_SIZE)
        ctx[CTX_T_S] = self.t
        if m == 1:
            ctx[CTX_MEASURED], ctx[CTX_PREDICTED], ctx[CTX_INNOVATION] = measured, predicted, y[0]
            ctx[CTX_VARIANCE], ctx[CTX_NOISE_VARIANCE] = S[0, 0], noise_variance
        else:
            ctx[CTX_MEASURED], ctx[CTX_PREDICTED], ctx[CTX_INNOVATION] = angle, 0.0, angle
            ctx[CTX_VARIANCE], ctx[CTX_NOISE_VARIANCE] = np.trace(S) / 3.0, np.trace(R) / 3.0
        ctx[CTX_NIS], ctx[CTX_DOF], ctx[CTX_RATE_PREDICTED] = nis, m, rate
        ctx[CTX_MIN_VALID], ctx[CTX_MAX_VALID] = lo, hi
        ctx[CTX_COS_INCIDENCE] = -1.0 / h_offset if h_offset != 0.0 else 1.0
        check = self.cfg.checks[channel]
        decision = check(ctx, self.cfg.check_params[channel], self.check_state[channel, beam])
        self.decisions.append((self.t, channel, beam, decision))
        if not accepted(decision):
            return decision
        exact_map = self.cfg.unscented_ranges and self.cfg.terrain_walk_m_rt_m == 0.0
        if decision == REANCHOR and h_offset != 0.0 and not exact_map:
            self.offset += y[0] / h_offset
            self.offset_var = noise_variance / h_offset ** 2
            return decision
        if decision == REANCHOR:
            if h_offset != 0.0:
                # an exact map: the position is off; open it, take the range vertically
                up = self.r / np.linalg.norm(self.r)
                across = H[0, 0:3] - (H[0, 0:3] @ up) * up
                if slope_across is None:
                    H, R = self._leave_out_slope(H, R, across)
                    slope_across = across
                vertical = (y[0] / h_offset) ** 2
                horizontal = y[0] ** 2 / max(across @ across, MIN_OPENING_SLOPE ** 2)
                opening = vertical * np.outer(up, up) + horizontal * (np.eye(3) - np.outer(up, up))
                self.kf.P = P + np.pad(opening, ((0, 12), (0, 12)))
            else:
                # a consistent velocity the estimate contradicts: open P_vv along the beam first
                d = H[0, 3:6]
                self.kf.P = P + y[0] ** 2 * np.pad(np.outer(d, d), ((3, 9), (3, 9)))
            S = H @ self.kf.P @ H.T + R
        if map_variance > 0.0:
            k = self.offset_var * h_offset / S[0, 0]
            self.offset += k * y[0]
            self.offset_var = (1 - k * h_offset) ** 2 * self.offset_var + k * k * (S[0, 0] - map_variance)
        if h_offset != 0.0 and self.cfg.terrain_walk_m_rt_m > 0.0:
            dx = self._schmidt_range_update(H, R, y, S, with_velocity=False)
        elif slope_across is not None:
            dx = self._schmidt_range_update(H, R, y, S, with_velocity=True)
        else:
            self.kf.x = np.zeros((ERROR_SIZE, 1))
            self.kf.dim_z = m
            self.kf.update(y.reshape(m, 1), R=R, H=H)
            dx = self.kf.x.ravel()
        self.kf.P = 0.5 * (self.kf.P + self.kf.P.T)
        self.r = self.r + dx[0:3]
        self.v = self.v + dx[3:6]
        self.rot = Rotation.from_rotvec(dx[6:9]) * self.rot
        self.ba = self.ba + dx[9:12]
        self.bg = self.bg + dx[12:15]
        return decision

    def _leave_out_slope(self, H, R, slope_across):
        """The map's slope left out: ``H``'s position part on the vertical, the rest into ``R``."""
        H = H.copy()
        H[0, 0:3] -= slope_across
        return H, R + slope_across @ self.kf.P[0:3, 0:3] @ slope_across

    def _horizontal_sigma_m(self):
        up = self.r / np.linalg.norm(self.r)
        P_rr = self.kf.P[0:3, 0:3]
        return np.sqrt(max(0.5 * (np.trace(P_rr) - up @ P_rr @ up), 0.0))

    def _schmidt_range_update(self, H, R, y, S, with_velocity):
        """Range update of the vertical channel alone: of the gain only the vertical position
        kept (and the vertical velocity if ``with_velocity``), ``P`` in Joseph form; returns
        the error estimate."""
        P = self.kf.P
        up = self.r / np.linalg.norm(self.r)
        full = P @ H.T @ np.linalg.inv(S)
        K = np.zeros((ERROR_SIZE, 1))
        K[0:3] = np.outer(up, up) @ full[0:3]
        if with_velocity:
            K[3:6] = np.outer(up, up) @ full[3:6]
        A = np.eye(ERROR_SIZE) - K @ H
        self.kf.P = A @ P @ A.T + K @ R @ K.T
        return (K @ y).ravel()

    def _patch_share(self, channel, beam, point_mf, radius_m):
        """Numpy restatement of :func:`gnc.navigation._patch_share` for the Moon-fixed footprint
        ``point_mf``."""
        moved = np.linalg.norm(point_mf - self.footprints.get((channel, beam), np.zeros(3)))
        self.footprints[(channel, beam)] = point_mf
        return min(max(radius_m / max(moved, 1e-9), 1.0), PATCH_SHARE_MAX)

    def _slant_range(self, o_mf, d_mf, max_range_m):
        """Numpy restatement of :func:`gnc.measurements._slant_range`: ``(range, clearance
        gradient, cos ι)``, or None."""
        hit, rho = raycast(self.terrain, o_mf, d_mf, max_range_m)
        if not hit:
            return None
        p = o_mf + rho * d_mf
        lat, lon = np.arctan2(p[2], np.hypot(p[0], p[1])), np.arctan2(p[1], p[0])
        up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
        east = np.array([-np.sin(lon), np.cos(lon), 0.0])
        step = NORMAL_BASELINE_M / self.terrain.radius_m

        def height_along(axis, sign):          # the height a great-circle arc of ``step`` away
            q = np.cos(step) * up + sign * np.sin(step) * axis
            return height_m(self.terrain, np.arcsin(q[2]), np.arctan2(q[1], q[0]))

        slope = [(height_along(axis, 1.0) - height_along(axis, -1.0)) / (2 * step)
                 for axis in (north, east)]
        rho_p = np.linalg.norm(p)
        grad = up - (slope[0] * north + slope[1] * east) / rho_p
        if grad @ d_mf < -1e-3:
            rho -= clearance_xyz(self.terrain, p[0], p[1], p[2]) / (grad @ d_mf)
        cos_inc = -(grad @ d_mf) / np.linalg.norm(grad)
        return None if cos_inc < MIN_INCIDENCE_COS else (rho, grad, cos_inc)

    def _linearise_range(self, geometry, beam, centre_range_m, H):
        """Numpy restatement of :func:`gnc.measurements.linearise_range`: the unscented
        transform of the range over the position covariance, in matrix form; ``centre_range_m`` is
        the map's range at the estimate."""
        P = self.kf.P[0:3, 0:3]
        if SIGMA_POINT_SPREAD ** 2 * np.trace(P) <= NORMAL_BASELINE_M ** 2:
            return 0.0, 0.0
        C = self.rot.as_matrix()
        to_mf = _rz(rotation_angle_rad(self.cfg.moon, self.t)).T
        origin = to_mf @ (self.r + C @ np.asarray(geometry.pos_b_m))
        d_mf = to_mf @ (C @ geometry.beams_b[beam])
        max_range_m = geometry.max_range_m * 1.5
        up = self.r / np.linalg.norm(self.r)
        east = np.cross([0.0, 0.0, 1.0], up)
        norm = np.linalg.norm(east)
        east = east / norm if norm > 1e-12 else np.array([0.0, 1.0, 0.0])    # +y at a pole
        frame = np.column_stack([up, east, np.cross(up, east)])
        offsets = SIGMA_POINT_SPREAD * frame @ np.linalg.cholesky(frame.T @ P @ frame)
        points = [np.zeros(3)] + [sign * offsets[:, k] for k in range(3) for sign in (-1.0, 1.0)]
        casts = [self._slant_range(origin + to_mf @ p, d_mf, max_range_m) for p in points[1:]]
        if any(cast is None for cast in casts):
            return 0.0, max_range_m ** 2
        ranges = np.array([centre_range_m] + [cast[0] for cast in casts])
        n_plus_kappa = SIGMA_POINT_SPREAD ** 2
        weights = np.r_[1.0 - 3.0 / n_plus_kappa, np.full(6, 0.5 / n_plus_kappa)]
        mean = weights @ ranges
        cross = (weights[1:] * (ranges[1:] - mean)) @ np.array(points[1:])    # P_xρ
        slope = np.linalg.solve(P, cross)
        H[0, 0:3] = slope
        residual = weights @ (ranges - mean) ** 2 - slope @ P @ slope
        return mean - ranges[0], max(residual, 0.0)

    def _predict_range(self, geometry, beam):
        """Numpy restatement of :func:`gnc.measurements.predict_range`."""
        C = self.rot.as_matrix()
        lever = C @ np.asarray(geometry.pos_b_m)
        d = C @ geometry.beams_b[beam]
        origin = self.r + lever
        to_mf = _rz(rotation_angle_rad(self.cfg.moon, self.t)).T
        o_mf, d_mf = to_mf @ origin, to_mf @ d
        cast = self._slant_range(o_mf, d_mf, geometry.max_range_m * 1.5)
        if cast is None:
            return None
        rho, grad, cos_inc = cast
        rho -= self.offset / cos_inc
        n = to_mf.T @ (grad / np.linalg.norm(grad))
        H = np.zeros((1, ERROR_SIZE))
        H[0, 0:3] = n / cos_inc
        H[0, 6:9] = np.cross(rho * d + lever, n) / cos_inc
        om = self.cfg.moon.rotation_rate_rad_s
        v_ground = self.v + C @ np.cross(self.omega, geometry.pos_b_m) + np.cross([0, 0, -om], origin)
        return rho, H, (n @ v_ground) / cos_inc, cos_inc

    def update_range(self, channel, ranges_m, valid):
        """Slant ranges of ``RANGEFINDER`` or ``VELOCIMETER_RANGE`` beams."""
        if not self.cfg.use[channel]:
            return
        geometry = self.cfg.rangefinder if channel == RANGEFINDER else self.cfg.velocimeter
        flushed = False
        for k in range(geometry.beams_b.shape[0]):
            if not valid[k]:
                continue
            if not flushed:
                self.flush()
                self.offset_var += self.cfg.terrain_walk_m_rt_m ** 2 * self.distance
                self.distance = 0.0
                flushed = True
            prediction = self._predict_range(geometry, k)
            if prediction is None:
                self.decisions.append((self.t, channel, k, NO_PREDICTION))
                continue
            rho, H, rate, cos_inc = prediction
            sigma = geometry.noise_floor_m + geometry.noise_fraction * rho
            sigma_h = self._horizontal_sigma_m()
            roughness = 0.0
            if self.cfg.map_roughness:
                footprint = np.array(footprint_mf(self.cfg.moon, self.t, self.x, geometry.pos_b_m,
                                                  geometry.beams_b[k], rho))
                radius_m = np.sqrt(2.0) * sigma_h
                roughness = (map_roughness_m2(self.terrain, *footprint, radius_m) / cos_inc ** 2
                             * self._patch_share(channel, k, footprint, radius_m))
            up = self.r / np.linalg.norm(self.r)
            across = H[0, 0:3] - (H[0, 0:3] @ up) * up
            vertical = (sigma_h > self.cfg.slope_sigma_max_m
                        and across @ self.kf.P[0:3, 0:3] @ across <= roughness)
            nonlinear = 0.0
            if self.cfg.unscented_ranges and not vertical:
                shift, nonlinear = self._linearise_range(geometry, k, rho + self.offset / cos_inc,
                                                         H)
                rho += shift
                across = H[0, 0:3] - (H[0, 0:3] @ up) * up
                vertical = nonlinear > across @ self.kf.P[0:3, 0:3] @ across
            variance = sigma ** 2 + roughness + nonlinear
            self._update(channel, k, H, np.array([[variance]]), np.array([ranges_m[k] - rho]),
                         ranges_m[k], rho, variance, rate, geometry.min_range_m,
                         geometry.max_range_m, h_offset=-1.0 / cos_inc,
                         slope_across=across if vertical else None)

    def update_los_velocity(self, los_m_s, valid):
        """Line-of-sight velocities of the velocimeter's beams."""
        if not self.cfg.use[VELOCIMETER_VELOCITY]:
            return
        geometry = self.cfg.velocimeter
        flushed = False
        for k in range(geometry.beams_b.shape[0]):
            if not valid[k]:
                continue
            if not flushed:
                self.flush()
                flushed = True
            C = self.rot.as_matrix()
            d = C @ geometry.beams_b[k]
            w = C @ np.cross(self.omega, geometry.pos_b_m)
            om = np.array([0.0, 0.0, self.cfg.moon.rotation_rate_rad_s])
            v_ground = self.v + w - np.cross(om, self.r + C @ np.asarray(geometry.pos_b_m))
            H = np.zeros((1, ERROR_SIZE))
            H[0, 0:3] = -np.cross(d, om)
            H[0, 3:6] = d
            H[0, 6:9] = np.cross(w, d) + np.cross(d, v_ground)
            predicted = v_ground @ d
            var = geometry.velocity_noise_m_s ** 2
            self._update(VELOCIMETER_VELOCITY, k, H, np.array([[var]]),
                         np.array([los_m_s[k] - predicted]), los_m_s[k], predicted, var, 0.0,
                         -np.inf, np.inf)

    def update_star_tracker(self, q_meas, valid):
        """One star-tracker attitude sample."""
        if not self.cfg.use[STAR_TRACKER] or not valid:
            return
        self.flush()
        error = _rotation(q_meas) * self.rot.inv()
        y = error.as_rotvec()
        C = self.rot.as_matrix()
        R = C @ np.diag(np.square(self.cfg.star_tracker_noise_rad)) @ C.T
        H = np.zeros((3, ERROR_SIZE))
        H[:, 6:9] = np.eye(3)
        self._update(STAR_TRACKER, 0, H, R, y, 0.0, 0.0, 0.0, 0.0, 0.0, np.pi,
                     angle=float(np.linalg.norm(y)))

    def step(self, log, k):
        """Row ``k`` of a :class:`~gnc.sensor_log.SensorLog`, as :func:`gnc.sensor_log.nav_step`."""
        self.propagate(log.imu[k, 0:3], log.imu[k, 3:6])
        if log.rangefinder_due[k]:
            self.update_range(RANGEFINDER, log.rangefinder_m[k], log.rangefinder_valid[k])
        if log.velocimeter_due[k]:
            self.update_range(VELOCIMETER_RANGE, log.velocimeter_range_m[k],
                              log.velocimeter_range_valid[k])
            self.update_los_velocity(log.velocimeter_los_m_s[k], log.velocimeter_los_valid[k])
        if log.star_tracker_due[k]:
            self.update_star_tracker(log.star_tracker_q[k], log.star_tracker_valid[k])


def reference_replay(cfg, x0, P0, t0_s, terrain, log, rows=None):
    """Replay ``log`` through a :class:`ReferenceFilter`.

    Returns ``(x, p_diag, filter)``: nominal state and covariance diagonal after each row (or
    after the first ``rows`` rows), and the filter with its decision list.
    """
    ref = ReferenceFilter(cfg, x0, P0, t0_s, terrain)
    n = log.t_s.size if rows is None else rows
    xs = np.empty((n, 16))
    ps = np.empty((n, ERROR_SIZE))
    for k in range(n):
        ref.step(log, k)
        xs[k] = ref.x
        ps[k] = np.diag(ref.kf.P)
    return xs, ps, ref
