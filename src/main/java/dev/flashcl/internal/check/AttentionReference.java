package dev.flashcl.internal.check;

import dev.flashcl.internal.kernels.AttentionDims;

/**
 * Attention in double precision, written from the definition: for each (batch, head, query row
 * i), s_j = scale * sum_d q_id k_jd over the keys j the mask lets i see (causal: j <= i + kv_len
 * - q_len), p = softmax(s), o_i = sum_j p_j v_j, lse_i = log sum_j exp(s_j). A row that sees no
 * key has o = 0 and lse = -inf. Inputs are host copies of the device buffers with their layouts.
 */
public final class AttentionReference {
    /** o: [batch, heads, q_len, head_dim] contiguous; lse: [batch, heads, q_len]; cond: per row, max_j scale * sum_d |q_d k_jd|. */
    public record Result(double[] o, double[] lse, double[] cond) {}

    /** A host tensor with the same (offset, batch, head, row) strides as its device view. */
    public record HostTensor(float[] data, int offset, int batchStride, int headStride, int rowStride) {
        public double at(int b, int h, int r, int d) {
            return data[offset + b * batchStride + h * headStride + r * rowStride + d];
        }
    }

    private AttentionReference() {}

    public static Result attention(HostTensor q, HostTensor k, HostTensor v, AttentionDims dims, boolean causal, double scale) {
        int hd = dims.headDim();
        double[] o = new double[dims.batch() * dims.heads() * dims.qLen() * hd];
        double[] lse = new double[dims.batch() * dims.heads() * dims.qLen()];
        double[] cond = new double[lse.length];
        double[] s = new double[dims.kvLen()];
        for (int b = 0; b < dims.batch(); b++) {
            for (int h = 0; h < dims.heads(); h++) {
                for (int i = 0; i < dims.qLen(); i++) {
                    int row = (b * dims.heads() + h) * dims.qLen() + i;
                    int visible = causal ? Math.max(0, Math.min(dims.kvLen(), i + dims.kvLen() - dims.qLen() + 1)) : dims.kvLen();
                    double max = Double.NEGATIVE_INFINITY;
                    double c = 0;
                    for (int j = 0; j < visible; j++) {
                        double dot = 0;
                        double abs = 0;
                        for (int d = 0; d < hd; d++) {
                            double t = q.at(b, h, i, d) * k.at(b, h, j, d);
                            dot += t;
                            abs += Math.abs(t);
                        }
                        s[j] = dot * scale;
                        c = Math.max(c, abs * scale);
                        max = Math.max(max, s[j]);
                    }
                    cond[row] = c;
                    if (visible == 0) {
                        lse[row] = Double.NEGATIVE_INFINITY;
                        continue;   // o stays 0
                    }
                    double sum = 0;
                    for (int j = 0; j < visible; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int j = 0; j < visible; j++) acc += s[j] * v.at(b, h, j, d);
                        o[row * hd + d] = acc / sum;
                    }
                    lse[row] = max + Math.log(sum);
                }
            }
        }
        return new Result(o, lse, cond);
    }
}
