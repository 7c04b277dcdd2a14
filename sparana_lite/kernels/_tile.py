"""A register tile: ``TILE`` consecutive float32s of a row, held as one LLVM vector value.

The CSR product ``out[i, c:c+TILE] = sum_p data[p] * B[indices[p], c:c+TILE]`` reads a row of
``B`` per nonzero and writes the row of ``out`` once. Written as a loop over ``j``, LLVM cannot
keep ``out[i, c:c+TILE]`` in registers across the nonzeros (it cannot prove that ``out`` and
``B`` do not overlap), so every nonzero also loads and stores the output. A tile value has no
address: LLVM keeps it in registers (8 of AVX-512's 512-bit ones, 16 of AVX2's 256-bit ones)
and the loop over the nonzeros needs, per nonzero, ``TILE / 16`` loads and FMAs::

    s = tile_zero()
    for p in range(indptr[i], indptr[i + 1]):
        s = tile_add(s, tile_scale(data[p], tile_load(B, indices[p], c)))
    tile_store(out, i, c, s)

One thread computes each tile in a fixed order, so a result does not depend on the number of
threads. The arithmetic allows fused multiply-adds and reassociation (as the fastmath of the
other kernels) but not the assumption that values are finite: NaN and infinity propagate as in
SciPy.

Loads and stores are unchecked: the caller keeps ``c + TILE`` within the row.

:func:`transpose16` holds a 16x16 block the same way: sixteen 16-float rows, transposed in
registers by four rounds of shuffles (each swaps the off-diagonal h x h blocks of every pair of
rows h apart, h = 8, 4, 2, 1), then stored as sixteen rows of the result: contiguous loads and
stores only, where a copy through ``x.T`` reads one float per cache line.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

TILE = 128  # floats: 512 bytes, eight cache lines of a row

_VECTOR = ir.VectorType(ir.FloatType(), TILE)
_FLAGS = ("nsz", "arcp", "contract", "afn", "reassoc")  # fastmath without nnan, ninf


class RowTile(types.Type):
    def __init__(self):
        super().__init__(name=f"RowTile({TILE})")


row_tile = RowTile()


@register_model(RowTile)
class _RowTileModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VECTOR)


def _tile_pointer(context, builder, array_type, array, i, i_type, j, j_type):
    """Pointer to ``array[i, j]`` as a pointer to a tile (no wraparound, no bounds check)."""
    a = context.make_array(array_type)(context, builder, array)
    index = [context.cast(builder, i, i_type, types.intp), context.cast(builder, j, j_type, types.intp)]
    p = cgutils.get_item_pointer2(context, builder, a.data, cgutils.unpack_tuple(builder, a.shape),
                                  cgutils.unpack_tuple(builder, a.strides), array_type.layout,
                                  index, wraparound=False, boundscheck=False)
    return builder.bitcast(p, _VECTOR.as_pointer())


@intrinsic
def tile_zero(typingctx):
    """A tile of zeros."""
    def codegen(context, builder, signature, args):
        return ir.Constant(_VECTOR, [0.0] * TILE)
    return row_tile(), codegen


@intrinsic
def tile_load(typingctx, array, i, j):
    """``array[i, j:j + TILE]`` of a 2-D float32 array whose rows are contiguous."""
    def codegen(context, builder, signature, args):
        ptr = _tile_pointer(context, builder, signature.args[0], args[0], args[1],
                            signature.args[1], args[2], signature.args[2])
        return builder.load(ptr, align=4)
    return row_tile(array, i, j), codegen


@intrinsic
def tile_store(typingctx, array, i, j, tile):
    """``array[i, j:j + TILE] = tile``."""
    def codegen(context, builder, signature, args):
        ptr = _tile_pointer(context, builder, signature.args[0], args[0], args[1],
                            signature.args[1], args[2], signature.args[2])
        builder.store(args[3], ptr, align=4)
        return context.get_dummy_value()
    return types.none(array, i, j, tile), codegen


@intrinsic
def tile_scale(typingctx, a, tile):
    """``a * tile`` for a scalar ``a``."""
    def codegen(context, builder, signature, args):
        a32 = context.cast(builder, args[0], signature.args[0], types.float32)
        lane0 = builder.insert_element(ir.Constant(_VECTOR, ir.Undefined), a32,
                                       ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(lane0, lane0,
                                       ir.Constant(ir.VectorType(ir.IntType(32), TILE), [0] * TILE))
        return builder.fmul(splat, args[1], flags=_FLAGS)
    return row_tile(a, row_tile), codegen


@intrinsic
def tile_add(typingctx, x, y):
    """``x + y``."""
    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=_FLAGS)
    return row_tile(row_tile, row_tile), codegen


_BLOCK = ir.VectorType(ir.FloatType(), 16)
_LANE_INDEX = ir.VectorType(ir.IntType(32), 16)


def _block_row_pointer(context, builder, array_type, array, i, j):
    a = context.make_array(array_type)(context, builder, array)
    p = cgutils.get_item_pointer2(context, builder, a.data, cgutils.unpack_tuple(builder, a.shape),
                                  cgutils.unpack_tuple(builder, a.strides), array_type.layout,
                                  [i, j], wraparound=False, boundscheck=False)
    return builder.bitcast(p, _BLOCK.as_pointer())


@intrinsic
def transpose16(typingctx, x, i0, j0, out):
    """``out[j0:j0 + 16, i0:i0 + 16] = x[i0:i0 + 16, j0:j0 + 16].T`` for 2-D float32 arrays with
    contiguous rows (unchecked: the caller keeps the block inside both arrays).

    Returns an int, nonzero when the block holds a NaN or an infinity (all exponent bits set):
    the rows are in registers anyway, so the check of an input batch costs no pass of its own."""
    def codegen(context, builder, signature, args):
        x_type, i_type, j_type, out_type = signature.args
        i0_ = context.cast(builder, args[1], i_type, types.intp)
        j0_ = context.cast(builder, args[2], j_type, types.intp)
        offset = [ir.Constant(i0_.type, r) for r in range(16)]
        rows = [builder.load(_block_row_pointer(context, builder, x_type, args[0],
                                                builder.add(i0_, offset[r]), j0_), align=4)
                for r in range(16)]
        exponent = ir.Constant(_LANE_INDEX, [0x7F800000] * 16)
        nonfinite = None
        for row in rows:
            bits = builder.and_(builder.bitcast(row, _LANE_INDEX), exponent)
            flags = builder.icmp_unsigned("==", bits, exponent)
            nonfinite = flags if nonfinite is None else builder.or_(nonfinite, flags)
        h = 8
        while h:
            low = ir.Constant(_LANE_INDEX, [j + 16 - h if j & h else j for j in range(16)])
            high = ir.Constant(_LANE_INDEX, [j + 16 if j & h else j + h for j in range(16)])
            for i in range(16):
                if not i & h:
                    a, b = rows[i], rows[i + h]
                    rows[i] = builder.shuffle_vector(a, b, low)
                    rows[i + h] = builder.shuffle_vector(a, b, high)
            h //= 2
        for c in range(16):
            builder.store(rows[c], _block_row_pointer(context, builder, out_type, args[3],
                                                      builder.add(j0_, offset[c]), i0_), align=4)
        mask = builder.bitcast(nonfinite, ir.IntType(16))
        return builder.zext(mask, ir.IntType(32))
    return types.int32(x, i0, j0, out), codegen


@intrinsic
def nonfinite_bits(typingctx, v):
    """1 when the float32 ``v`` is a NaN or an infinity (all exponent bits set), else 0: the
    test of :func:`transpose16` on one value. An integer test on the bits: a kernel compiled
    with fast-math assumes finite values, and LLVM then folded ``math.isfinite(v)`` to True
    (NaN in a batch's last, partial 16-row block went unnoticed)."""
    def codegen(context, builder, signature, args):
        exponent = ir.Constant(ir.IntType(32), 0x7F800000)
        bits = builder.and_(builder.bitcast(args[0], ir.IntType(32)), exponent)
        return builder.zext(builder.icmp_unsigned("==", bits, exponent), ir.IntType(32))
    return types.int32(types.float32), codegen


# 16 floats of a row as one vector (a 512-bit register, two 256-bit ones), for dot products
# whose order of additions is fixed: these ops carry no fast-math flags, so LLVM may not
# reassociate them, and a sum comes out the same however a kernel was compiled. The product and
# the sum are one fused multiply-add (``llvm.fma``, rounded once on every CPU): written as a
# product and a sum, they were contracted into one anyway inside the fast-math kernels on
# AVX-512 and AVX2 code (vfmadd in the assembly), and would not be where a CPU has no FMA.
class Lanes(types.Type):
    def __init__(self):
        super().__init__(name="Lanes(16)")


lanes = Lanes()


@register_model(Lanes)
class _LanesModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _BLOCK)


@intrinsic
def lanes_zero(typingctx):
    """16 zeros."""
    def codegen(context, builder, signature, args):
        return ir.Constant(_BLOCK, [0.0] * 16)
    return lanes(), codegen


@intrinsic
def lanes_load(typingctx, array, i, j):
    """``array[i, j:j + 16]`` of a 2-D float32 array whose rows are contiguous (unchecked)."""
    def codegen(context, builder, signature, args):
        i_ = context.cast(builder, args[1], signature.args[1], types.intp)
        j_ = context.cast(builder, args[2], signature.args[2], types.intp)
        return builder.load(_block_row_pointer(context, builder, signature.args[0], args[0],
                                               i_, j_), align=4)
    return lanes(array, i, j), codegen


@intrinsic
def lanes_add_product(typingctx, acc, x, y):
    """``acc + x * y``, lane by lane, rounded once (a fused multiply-add)."""
    def codegen(context, builder, signature, args):
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_BLOCK, [_BLOCK] * 3),
                                             "llvm.fma.v16f32")
        return builder.call(fma, [args[1], args[2], args[0]])
    return lanes(lanes, lanes, lanes), codegen


@intrinsic
def lanes_sum(typingctx, x):
    """The sum of the 16 lanes, in a fixed tree (halves, then quarters, ...)."""
    def codegen(context, builder, signature, args):
        v, width = args[0], 16
        while width > 1:
            width //= 2
            low = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), width),
                                                           list(range(width))))
            high = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), width),
                                                            list(range(width, 2 * width))))
            v = builder.fadd(low, high)
        return builder.extract_element(v, ir.Constant(ir.IntType(32), 0))
    return types.float32(lanes), codegen
