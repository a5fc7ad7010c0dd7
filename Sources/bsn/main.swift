import Tensor
print(BLAS.coreName)
