# CMake toolchain file for bare-metal Arm Cortex-M with the GNU Arm Embedded
# toolchain (arm-none-eabi-gcc + newlib).  Use with
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake ...
# CPU flags (-mcpu, -mfloat-abi, ...) come from the target, not from here.
# Set ARM_TOOLCHAIN_PREFIX (e.g. /opt/gcc-arm/bin/arm-none-eabi-) to use a
# toolchain that is not on PATH.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

if(NOT DEFINED ARM_TOOLCHAIN_PREFIX)
    set(ARM_TOOLCHAIN_PREFIX "arm-none-eabi-")
endif()

set(CMAKE_C_COMPILER "${ARM_TOOLCHAIN_PREFIX}gcc")
set(CMAKE_ASM_COMPILER "${ARM_TOOLCHAIN_PREFIX}gcc")
set(CMAKE_AR "${ARM_TOOLCHAIN_PREFIX}ar")
set(CMAKE_OBJCOPY "${ARM_TOOLCHAIN_PREFIX}objcopy")
set(CMAKE_SIZE "${ARM_TOOLCHAIN_PREFIX}size")

# No OS to link a test executable against: check the compiler with a library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
