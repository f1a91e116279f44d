// porta_reduce: sum, mean, max, min and argmax over the inner items of each output, one
// work-group per (output, part), optionally writing raw f32 partials for a second launch
// (kernels/common/params.h, PORTA_REDUCE_PARAMS).

// Whether candidate (v, i) beats (bv, bi) for argmax: a NaN beats any number, and among equal
// values (or NaNs) the lower index wins, so the first maximum is found in any combining order.
PK_FN int porta_reduce_argmax_wins(float v, uint i, float bv, uint bi) {
  // Bitwise, not short-circuit, operators: clang-15 would otherwise merge the branches with
  // freeze instructions, which llvm-spirv-15 cannot translate.
  const int vn = pk_isnan(v);
  const int bn = pk_isnan(bv);
  const int lower = i < bi;
  return (vn & (!bn | lower)) | (!vn & !bn & ((v > bv) | ((v == bv) & lower)));
}

PK_KERNEL porta_reduce(PK_GLOBAL const uchar* x, PK_GLOBAL uchar* out, PortaReduceParams p) {
  PK_SHARED float vals[PORTA_MAX_WG];
  PK_SHARED uint idxs[PORTA_MAX_WG];
  const uint g = pk_group_linear();
  // A surplus group of the 2D grid folds nothing (see prelude.h on barriers).
  const int active = g < p.outer_n * p.parts;
  const uint lid = PK_LID0;
  const uint wg = PK_LSIZE0;
  uint part;
  const uint o = pk_divmod(g, p.parts, &part);
  const uint begin = part * p.chunk;
  const uint end =
      active && begin < p.inner_n ? begin + pk_minu(p.chunk, p.inner_n - begin) : begin;
  const uint base = p.x_offset + pk_offset4(o, p.outer_shape, p.x_outer_strides);
  const uint dtx = pk_byte(p.dtypes, 0u);
  const uint op = p.op;

  // Each work-item folds items begin + lid, + wg, ... in order, then the group combines. The
  // fold starts from its identity, chosen with a bitwise |: llvm-spirv-15 mistranslates the
  // switch that clang-15 makes of a || chain over op.
  float acc = op == PORTA_RED_MIN ? PK_INF : 0.0f;
  if ((op == PORTA_RED_MAX) | (op == PORTA_RED_ARGMAX)) acc = -PK_INF;
  uint best = 0xffffffffu;
  for (uint r = begin + lid; r < end; r += wg) {
    const float v = pk_load(x, dtx, base + pk_offset4(r, p.inner_shape, p.x_inner_strides));
    if (op == PORTA_RED_MAX) {
      acc = pk_max(acc, v);
    } else if (op == PORTA_RED_MIN) {
      acc = pk_min(acc, v);
    } else if (op == PORTA_RED_ARGMAX) {
      if (porta_reduce_argmax_wins(v, r, acc, best)) {
        acc = v;
        best = r;
      }
    } else {
      acc += v;
    }
  }
  vals[lid] = acc;
  idxs[lid] = best;
  PK_BARRIER();
  for (uint s = wg >> 1; s > 0u; s >>= 1) {
    if (lid < s) {
      const float v = vals[lid + s];
      if (op == PORTA_RED_MAX) {
        vals[lid] = pk_max(vals[lid], v);
      } else if (op == PORTA_RED_MIN) {
        vals[lid] = pk_min(vals[lid], v);
      } else if (op == PORTA_RED_ARGMAX) {
        if (porta_reduce_argmax_wins(v, idxs[lid + s], vals[lid], idxs[lid])) {
          vals[lid] = v;
          idxs[lid] = idxs[lid + s];
        }
      } else {
        vals[lid] += v;
      }
    }
    PK_BARRIER();
  }
  if (lid != 0u || !active) return;
  if ((p.flags & PORTA_RED_FLAG_PARTIAL) != 0u) {
    pk_store(out, PORTA_DT_F32, p.out_offset + g, vals[0]);
    return;
  }
  const uint oi = p.out_offset + pk_offset4(o, p.outer_shape, p.out_strides);
  if (op == PORTA_RED_ARGMAX) {
    // An empty row has no maximum; it reports -1.
    pk_store_i32(out, oi, (int)idxs[0]);
  } else {
    const float r = op == PORTA_RED_SUM || op == PORTA_RED_MEAN ? vals[0] * p.scale : vals[0];
    pk_store(out, pk_byte(p.dtypes, 2u), oi, r);
  }
}
